"""Command line: `python -m experiments demo [--logdir DIR] [--steps N]`."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _writable_logdir(value):
    path = pathlib.Path(value)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"--logdir: {value!r} exists and is not a directory")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise argparse.ArgumentTypeError(f"--logdir: {str(probe)!r} is not writable")
    return path


def _positive_int(value):
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, received {value!r}")
    return number


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="the material's 2-D optimizer paths")
    demo.add_argument("--logdir", type=_writable_logdir, default=pathlib.Path("logs"))
    demo.add_argument("--steps", type=_positive_int, default=30)
    args = parser.parse_args(argv)

    from experiments import demo as demo_module

    out, paths = demo_module.run(args.logdir, args.steps)
    objective = demo_module.OBJECTIVES["material"][0]
    print(f"{'optimizer':10s} {'final x':>10s} {'final y':>10s} {'f':>10s}")
    for name, path in paths.items():
        x, y = path[-1]
        print(f"{name:10s} {x:10.4f} {y:10.4f} {float(objective(path[-1])):10.3g}")
    print(f"\nwrote TensorBoard runs and {out / 'paths.png'}")
    print(f"look at them with:  tensorboard --logdir {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
