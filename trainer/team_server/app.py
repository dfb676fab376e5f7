"""The team server's MLflow app: MLflow's `basic-auth` app with one rule more, moving an alias
(setting or deleting one) needs MANAGE on the registered model.

In MLflow's basic auth, EDIT on a registered model allows new versions *and* alias moves, so a
trainer who may register could also point `@champion` at anything. This app reuses the basic-auth
app unchanged (users, passwords, grants, every other route's rule) and swaps the validators of
MLflow's two alias routes (`SetRegisteredModelAlias`, `DeleteRegisteredModelAlias`, under every
path MLflow serves them at) in basic-auth's own table `BEFORE_REQUEST_VALIDATORS`, which its
request hook consults after it has authenticated the caller (401 without valid credentials; an
admin passes; anyone else needs the validator's yes, or gets 403).

Registered in pyproject.toml under the `mlflow.app` entry point group as `trainer-auth`:
`mlflow server --app-name trainer-auth` (deploy/server.sh does so by default).
"""

from __future__ import annotations

from typing import Any

APP_NAME = "trainer-auth"


def may_move_alias() -> bool:
    """The caller holds MANAGE on the registered model named by the request (and may read the
    version the alias points at, as basic auth itself demands)."""
    from mlflow.server import auth

    permission = auth._get_permission_from_registered_model_or_prompt_name()
    return bool(permission.can_manage) and bool(auth._alias_version_requirement_met())


def alias_routes(validators: dict[tuple[str, str], Any]) -> list[tuple[str, str]]:
    """The (path, method) keys of MLflow's alias routes in basic-auth's validator table."""
    from mlflow.server import auth

    alias_validators = (
        auth.validate_can_set_model_or_prompt_version_alias,
        auth.validate_can_delete_model_or_prompt_version_alias,
    )
    return [key for key, validator in validators.items() if validator in alias_validators]


def demand_manage_for_alias_moves() -> list[tuple[str, str]]:
    """Swap the alias routes' validators for `may_move_alias`; returns the routes swapped."""
    from mlflow.server import auth

    routes = alias_routes(auth.BEFORE_REQUEST_VALIDATORS)
    if not routes:  # an MLflow whose table no longer holds them: refuse to start unguarded
        raise RuntimeError("trainer-auth: MLflow's alias routes not found among basic auth's validators")
    for key in routes:
        auth.BEFORE_REQUEST_VALIDATORS[key] = may_move_alias
    return routes


def create_app(app: Any = None) -> Any:
    """The server app (a factory, as MLflow expects of an `mlflow.app` entry point)."""
    from mlflow.server import app as mlflow_app
    from mlflow.server import auth

    demand_manage_for_alias_moves()
    return auth.create_app(app if app is not None else mlflow_app)
