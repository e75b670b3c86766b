#!/usr/bin/env bash
# Look up the sha256 digests of the two images the deploy recipe builds on and write them to deploy/.env,
# which `docker compose -f deploy/compose*.yaml` reads (compose refuses to build without them):
#   SINKLAB_BASE_DIGEST   of SINKLAB_BASE_IMAGE   (default python:3.11-slim-bookworm; deploy/Dockerfile's FROM)
#   SINKLAB_NGINX_DIGEST  of SINKLAB_NGINX_IMAGE  (default nginx:1.27-alpine; compose.replicas.yaml)
# Run it where Docker can reach the registry, once, and again whenever you want newer base images (then
# rebuild). Commit deploy/.env in your deployment's repository so every later build uses the same bytes.
#
#   deploy/pin-images.sh                 # pulls both images, prints and writes the digests
#   DOCKER=podman deploy/pin-images.sh   # another client with docker's CLI
#
# The digest is the one the registry served for the tag (for multi-platform images: the index, valid on
# every platform). Other lines of deploy/.env are kept.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
env_file="${SINKLAB_ENV_FILE:-$here/.env}"
docker="${DOCKER:-docker}"
base="${SINKLAB_BASE_IMAGE:-python:3.11-slim-bookworm}"
nginx="${SINKLAB_NGINX_IMAGE:-nginx:1.27-alpine}"

digest_of() {
  local image=$1 repo refs ref digest
  repo=${image%@*}
  repo=${repo%:*}
  "$docker" pull --quiet "$image" >/dev/null
  refs=$("$docker" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$image")
  # the digest recorded for this very repository (python@sha256:...), else one ending in its name
  # (docker.io/library/python@sha256:...), else the first
  ref=$(printf '%s\n' "$refs" | grep -F "${repo}@sha256:" | grep -E "^${repo}@" | head -n1 || true)
  [ -n "$ref" ] || ref=$(printf '%s\n' "$refs" | grep -E "(^|/)${repo##*/}@sha256:" | head -n1 || true)
  [ -n "$ref" ] || ref=$(printf '%s\n' "$refs" | head -n1)
  digest=${ref##*@}
  if ! [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
    echo "pin-images: no sha256 digest for $image (docker reported: '${refs//$'\n'/ }')" >&2
    return 1
  fi
  printf '%s\n' "$digest"
}

base_digest=$(digest_of "$base")
nginx_digest=$(digest_of "$nginx")

tmp=$(mktemp "${env_file}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
if [ -f "$env_file" ]; then
  grep -v -E '^(SINKLAB_BASE_IMAGE|SINKLAB_BASE_DIGEST|SINKLAB_NGINX_IMAGE|SINKLAB_NGINX_DIGEST)=' "$env_file" >"$tmp" || true
fi
{
  echo "SINKLAB_BASE_IMAGE=$base"
  echo "SINKLAB_BASE_DIGEST=$base_digest"
  echo "SINKLAB_NGINX_IMAGE=$nginx"
  echo "SINKLAB_NGINX_DIGEST=$nginx_digest"
} >>"$tmp"
mv "$tmp" "$env_file"
trap - EXIT
echo "pinned $base@$base_digest"
echo "pinned $nginx@$nginx_digest"
echo "written to $(basename "$env_file") (next to the compose files)"
