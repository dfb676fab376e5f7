"""The team server's own pieces: the MLflow server app that lets only releasers move aliases
(`app`, loaded by `mlflow server --app-name trainer-auth`) and the tool that gives accounts their
role on what a recipe names (`roles`, `python -m trainer.team_server.roles`).

`app` imports nothing of ours (it runs inside the server); `roles` reads recipes and schemas
(`recipe`, `data`) and talks to the server through MLflow's own auth client.
"""
