#!/usr/bin/env bash
# Build the container images (production, the default target, and demo) with podman and
# check that each really serves what it should.
#
# No Docker engine or container registry is reachable here, so: the base image
# debian:bookworm-slim is made locally with debootstrap (from the machine's own Debian
# mirror) and imported into podman; `podman build` runs with chroot isolation; and since
# `podman run` is not allowed in this sandbox, the check mounts the built image and
# starts the image's own CMD, as its own USER and ENV, in a chroot, then polls /healthz
# and calls discovery and the demo endpoints.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/sclc-relapse-cds:latest}
DEMO_IMAGE=${DEMO_IMAGE:-localhost/sclc-relapse-cds:demo}
BASE=docker.io/library/debian:bookworm-slim
CA=/etc/ssl/certs/ca-certificates.crt
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

log() { printf 'image: %s\n' "$*" >&2; }

need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! podman image exists "$BASE"; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$mirror" ] || { log "no Debian mirror in the apt sources"; exit 1; }
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
    tar -C "$rootfs" -c . | podman import - "$BASE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
fi

build() {  # TAG [podman build options]
    local tag=$1
    shift
    log "building $tag"
    podman build --pull=never --isolation=chroot --cgroup-manager=cgroupfs --format docker \
        -v "$CA:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt \
        "$@" -t "$tag" .
}
build "$DEMO_IMAGE" --target demo
build "$IMAGE"  # the default target: production

# --- check: an image's CMD, USER and ENV, started in a chroot of the image -----------
# check IMAGE KIND: starts the image's own CMD (on loopback, so without JWTs) and runs
# the probe of KIND (production or demo) against it.
check() {
    local IMAGE=$1 kind=$2 PORT
    PORT=${IMAGE_CHECK_PORT:-$(free_port)}
    (
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
healthcheck=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE" 2>/dev/null || true)
[ "$user" != "" ] && [ "$user" != "root" ] && [ "$user" != "0" ] || { log "image runs as root"; exit 1; }
case "$healthcheck" in *healthz*) ;; *) log "image has no /healthz HEALTHCHECK ($healthcheck)"; exit 1 ;; esac
mapfile -t cmd < <(podman image inspect --format '{{range .Config.Cmd}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
mapfile -t env < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
workdir=$(podman image inspect --format '{{.Config.WorkingDir}}' "$IMAGE")

root=$(podman image mount "$IMAGE")
scratch=$(mktemp -d)
cleanup() {
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    umount "$root/tmp" "$root/data" "$root/proc" "$root/dev" 2>/dev/null || true
    podman image unmount "$IMAGE" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT
uid=$(chroot "$root" /usr/bin/id -u "$user")
gid=$(chroot "$root" /usr/bin/id -g "$user")
# The image mount is read-only: give the chroot a writable /tmp and /data, and /proc, /dev.
mkdir -p "$scratch/tmp" "$scratch/data" && chmod 1777 "$scratch/tmp" && chown "$uid:$gid" "$scratch/data"
mount --bind "$scratch/tmp" "$root/tmp"
mount --bind "$scratch/data" "$root/data"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"

overrides=("SCLC_CDS_HOST=127.0.0.1" "SCLC_CDS_PORT=$PORT")
log "starting ${cmd[*]} as $user in $workdir (port $PORT)"
chroot --userspec="$uid:$gid" "$root" /usr/bin/env -i "${env[@]}" "${overrides[@]}" \
    HOME="$workdir" /bin/sh -c 'cd "$HOME" && exec "$@"' sh "${cmd[@]}" \
    >"$scratch/server.log" 2>&1 &
server=$!

for _ in $(seq 1 60); do
    if python3 - "$PORT" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=2)
PY
    kill -0 "$server" 2>/dev/null || { cat "$scratch/server.log" >&2; log "the image's CMD exited"; exit 1; }
    sleep 1
done
python3 - "$PORT" "$kind" <<'PY'
import json, sys, urllib.error, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
def get(path):
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return response.status, response.read()
status, body = get("/healthz")
assert status == 200 and json.loads(body) == {"status": "ok"}, body
services = {s["id"] for s in json.loads(get("/cds-services")[1])["services"]}
assert services == {"sclc-relapse-patient-view", "sclc-relapse-order-select", "sclc-relapse-order-sign"}, services
if sys.argv[2] == "demo":
    patients = json.loads(get("/demo/api/patients")[1])
    assert len(patients) >= 20, len(patients)
    assert get("/fhir/Patient/third-line")[0] == 200
    assert b"<html" in get("/demo")[1]
    shown = f"/demo ({len(patients)} patients), /fhir"
else:  # production: the demo EHR is left out
    for path in ("/demo", "/fhir/Patient/third-line"):
        try:
            get(path)
        except urllib.error.HTTPError as error:
            assert error.code == 404, (path, error.code)
        else:
            raise AssertionError(f"{path} is served by the production image")
    shown = "no /demo, no /fhir"
feedback = {"feedback": [{"card": "0f5c2a52-3b6e-4f47-9d7c-5e0f7f2f6a11", "outcome": "overridden",
                          "outcomeTimestamp": "2026-11-21T10:00:00Z"}]}
request = urllib.request.Request(base + "/cds-services/sclc-relapse-patient-view/feedback",
                                 data=json.dumps(feedback).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=10) as response:
    assert response.status == 200, response.status
print(f"image: {sys.argv[2]} OK: /healthz, discovery ({len(services)} services), {shown}, feedback")
PY
[ -s "$scratch/data/feedback.sqlite3" ] || { log "feedback was not written to /data"; exit 1; }
log "feedback stored in the image's /data volume as user $user"
if [ "$kind" = production ]; then
    chroot "$root" /opt/venv/bin/python -c "import importlib.util as u
assert u.find_spec('service.demo') is None and u.find_spec('distributed') is None" \
        || { log "the production image holds the demo EHR or Dask"; exit 1; }
    log "production: the demo EHR and the screen's Dask are left out"
fi
    )
}
check "$DEMO_IMAGE" demo
check "$IMAGE" production
