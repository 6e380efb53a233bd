"""`update-prs`: a prototype's template update as one pull-request branch, for the `template-updates` pipeline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mlops.pipeline.tracking import ANSWERS_FILE
from mlops.updates.git import RepoError
from mlops.updates.proposals import propose
from mlops.updates.release import apply_release

COMMAND = "update-prs"
APPLICATION = "prototype"  # the branch reads template-update/prototype-<version>


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line of `update-prs`."""
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Apply the latest template release on a branch template-update/prototype-<version>, push it, "
        "and write the pull request to open. The default branch is never changed.",
    )
    parser.add_argument("--remote", default="origin", help="where the branch goes (never the default branch)")
    parser.add_argument("--vcs-ref", help="template version to update to (default: the latest release)")
    parser.add_argument("--plan", type=Path, help="write the pull request to open (JSON: branch, title, body, labels)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `update-prs`; run it from the repository's root."""
    args = parse_args(argv)
    try:
        plan = propose(
            Path.cwd(),
            [(APPLICATION, ANSWERS_FILE)],
            lambda repo, answers, say: apply_release(repo, answers, args.vcs_ref, say),
            COMMAND,
            args.remote,
        )
    except (RepoError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.plan:
        plan.write(args.plan)
    print(f"{len(plan.proposals)} update branch(es) pushed to {args.remote}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
