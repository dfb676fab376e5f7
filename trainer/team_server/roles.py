"""Accounts and roles on the team server, through MLflow's own auth client (`make roles ARGS=...`):

    python -m trainer.team_server.roles add USER ROLE [--recipe RECIPE ...] [--password-stdin]
    python -m trainer.team_server.roles password USER [--password-stdin]
    python -m trainer.team_server.roles remove USER

A role is a set of MLflow permissions on what each recipe names (its experiment and its registered
model, created here by the admin if missing, so no trainer becomes their owner):

    reader    READ on the experiment and the registered model: browse runs, versions, artifacts
    trainer   EDIT on the experiment (runs, logged models) and the registered model (new versions
              and their tags), EDIT on `Default` (where `mlflow run` opens its run)
    releaser  READ on the experiment, MANAGE on the registered model (moving an alias: the team
              server's app demands MANAGE for it), EDIT on `Default`

Grants only ever raise a permission: a trainer who is made releaser keeps EDIT on the experiment.
A new account's password is generated and shown once (or read from stdin, `--password-stdin`);
`password` sets a new one the same way (for `admin`, also in the state directory's file).

It signs in as the admin: MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD when set, else
`admin` with the password deploy/server.sh keeps in $STATE_DIR/admin_password (default
deploy/state). The server is MLFLOW_TRACKING_URI.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from trainer.errors import EXIT_ERROR, EXIT_OK, ConfigError, TrainerError, one_line

ROOT = Path(__file__).resolve().parents[2]
APP_NAME = "trainer-auth"  # trainer/team_server/app.py, its client is basic auth's
ADMIN = "admin"
EXIT_USAGE = 64
DEFAULT_EXPERIMENT_ID = "0"  # `Default`: where `mlflow run` opens the run it launches
ORDER = ("NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE")
ROLES: dict[str, dict[str, str]] = {
    "reader": {"experiment": "READ", "registered_model": "READ"},
    "trainer": {"experiment": "EDIT", "registered_model": "EDIT", "default_experiment": "EDIT"},
    "releaser": {"experiment": "READ", "registered_model": "MANAGE", "default_experiment": "EDIT"},
}


@dataclass(frozen=True)
class Target:
    """What a recipe names on the server: its experiment and its registered model."""

    experiment: str
    model: str


def targets(recipes: list[Path]) -> list[Target]:
    """The experiment and registered model each recipe names (unset names take its schema's)."""
    from trainer.data.schema import with_names
    from trainer.recipe.settings import load_recipe

    found = []
    for path in recipes:
        recipe = load_recipe(path)
        schema = recipe.input_path("schema")
        if not (recipe.experiment and recipe.registered_model) and schema is None:
            raise ConfigError(f"recipe {path} names no experiment or registered model, and no schema")
        named = with_names(recipe, schema) if schema is not None else recipe
        found.append(Target(str(named.experiment), str(named.registered_model)))
    return found


def admin_signed_in() -> None:
    """Sign in as the admin: the environment's account, or `admin` and the state directory's file."""
    if os.environ.get("MLFLOW_TRACKING_USERNAME"):
        return
    state = Path(os.environ.get("STATE_DIR") or ROOT / "deploy" / "state")
    secret = state / "admin_password"
    if not secret.is_file():
        raise ConfigError(
            f"no admin account: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or run this "
            f"where deploy/server.sh keeps {secret}"
        )
    os.environ["MLFLOW_TRACKING_USERNAME"] = ADMIN
    os.environ["MLFLOW_TRACKING_PASSWORD"] = secret.read_text().strip()


def server() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        raise ConfigError(
            f"MLFLOW_TRACKING_URI must be the team server's http(s):// address, got {uri!r:.80}"
        )
    return uri


def auth_client() -> Any:
    from mlflow.server import get_app_client

    return get_app_client(APP_NAME, tracking_uri=server())


def new_password(from_stdin: bool) -> tuple[str, bool]:
    """(password, generated): one line of stdin, or a fresh random one."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if len(password) < 12:
            raise ConfigError("a password needs at least 12 characters")
        return password, False
    return secrets.token_urlsafe(18), True


def ensure_exists(target: Target) -> str:
    """Create the experiment and the registered model (as the admin) if missing; the experiment's id."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(server())
    experiment = client.get_experiment_by_name(target.experiment)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(target.experiment)
    try:
        client.get_registered_model(target.model)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(target.model)
    return str(experiment_id)


def grant(auth: Any, user: str, resource: tuple[str, str], permission: str) -> str:
    """Give `user` at least `permission` on the resource (a grant it holds already is replaced only
    by a higher one); returns what it now holds."""
    from mlflow.exceptions import MlflowException

    kind, key = resource
    held = auth.get_user_permission(user, kind, key).permission
    if held in ORDER and ORDER.index(held) > ORDER.index(permission):
        return held
    try:
        auth.grant_user_permission(user, kind, key, permission)
    except MlflowException as exc:  # a lower grant of its own: replaced
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        auth.revoke_user_permission(user, kind, key)
        auth.grant_user_permission(user, kind, key, permission)
    return permission


def add(user: str, role: str, recipes: list[Path], from_stdin: bool) -> list[str]:
    """Create the account if missing, then grant the role on every recipe's names; lines to print."""
    from mlflow.exceptions import MlflowException

    wanted = ROLES[role]
    places = targets(recipes)
    auth, said = auth_client(), []
    try:
        auth.get_user(user)
    except MlflowException:
        password, generated = new_password(from_stdin)
        auth.create_user(user, password)
        said.append(f"created user {user}" + (f"; password: {password} (shown once)" if generated else ""))
    for target in places:
        resources = {
            "experiment": ("experiment", ensure_exists(target)),
            "registered_model": ("registered_model", target.model),
            "default_experiment": ("experiment", DEFAULT_EXPERIMENT_ID),
        }
        held = [f"{where} {grant(auth, user, resources[where], p)}" for where, p in wanted.items()]
        said.append(
            f"{user} is {role} of experiment '{target.experiment}' and registered model "
            f"'{target.model}': " + ", ".join(held)
        )
    return said


def password(user: str, from_stdin: bool) -> list[str]:
    """A new password for `user` (the admin's also replaces the state directory's copy)."""
    new, generated = new_password(from_stdin)
    auth_client().update_user_password(user, new)
    if user == ADMIN and os.environ.get("MLFLOW_TRACKING_USERNAME") == ADMIN:
        state = Path(os.environ.get("STATE_DIR") or ROOT / "deploy" / "state")
        if (state / "admin_password").is_file():
            (state / "admin_password").write_text(new + "\n")
    return [f"new password for {user}" + (f": {new} (shown once)" if generated else "")]


def remove(user: str) -> list[str]:
    auth_client().delete_user(user)
    return [f"removed user {user} (their runs and versions stay, recorded under their name)"]


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 64, as the trainer's own (argparse's 2 is a contract failure there)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="roles", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("add", help="create an account if missing and give it a role")
    a.add_argument("user")
    a.add_argument("role", choices=sorted(ROLES))
    a.add_argument("--recipe", type=Path, action="append", help="a recipe (repeat; default: train.yaml)")
    a.add_argument("--password-stdin", action="store_true", help="read a new account's password from stdin")
    w = sub.add_parser("password", help="set a new password")
    w.add_argument("user")
    w.add_argument("--password-stdin", action="store_true", help="read it from stdin (else generated)")
    r = sub.add_parser("remove", help="delete an account")
    r.add_argument("user")
    return p


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the server modules' own, on import
    args = parser().parse_args(argv)
    try:
        admin_signed_in()
        if args.command == "add":
            lines = add(args.user, args.role, args.recipe or [ROOT / "train.yaml"], args.password_stdin)
        elif args.command == "password":
            lines = password(args.user, args.password_stdin)
        else:
            lines = remove(args.user)
    except TrainerError as exc:
        print(f"roles: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the server's refusal, in one line
        print(f"roles: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    print("\n".join(lines))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
