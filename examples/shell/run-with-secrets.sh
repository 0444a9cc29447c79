#!/usr/bin/env sh
# A shell step (a CI job, a cron script, a local dev server) that needs credentials but
# must not keep them in files: `secret run` resolves every secret:// reference of the env
# file and of the environment in one request and starts the command with the values in its
# environment only. Nothing is written to disk; the command's exit code is the script's.
#
# Needs: `secret` on the PATH, and SECRETS_URL + SECRETS_TOKEN (or `secret login` done).
# Usage: run-with-secrets.sh ENV_FILE [COMMAND...]   (default command: a demo that checks
# that DEPLOY_TOKEN arrived, without printing it)
set -eu

env_file="${1:?usage: run-with-secrets.sh ENV_FILE [COMMAND...]}"
shift

if [ "$#" -eq 0 ]; then
  set -- sh -c 'test -n "$DEPLOY_TOKEN" && echo "DEPLOY_TOKEN is set (${#DEPLOY_TOKEN} characters); DEPLOY_TARGET=$DEPLOY_TARGET"'
fi

exec secret run --env-file "$env_file" -- "$@"
