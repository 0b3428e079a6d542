#!/usr/bin/env bash
# Build (or reuse) the local systemd image for a lab/Molecule distro, no registry needed.
#
#   lab/image.sh [debian12|rocky9|rocky10]
#
# Prints the image reference to use on stdout (last line); progress goes to stderr.
# Images are tagged hpcai-lab/<distro>:<recipe-hash> and :latest. The recipe hash
# covers this script and the package list, so an image is rebuilt only when its
# recipe changes. When Rocky cannot be fetched (no mirror, no registry) it falls
# back to Debian 12 and says so in one line.
set -euo pipefail

DISTRO="${1:-${LAB_DISTRO:-debian12}}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${LAB_CACHE:-$HERE/cache}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Rocky sources: a dnf mirror (baseurl of BaseOS, $releasever/$basearch expanded
# by dnf) and/or a container registry image. Either one is enough.
ROCKY_MIRROR="${ROCKY_MIRROR:-https://dl.rockylinux.org/pub/rocky}"
ROCKY_REGISTRY_IMAGE_9="${ROCKY_REGISTRY_IMAGE_9:-docker.io/rockylinux/rockylinux:9}"
ROCKY_REGISTRY_IMAGE_10="${ROCKY_REGISTRY_IMAGE_10:-docker.io/rockylinux/rockylinux:10}"
PROBE_TIMEOUT="${LAB_PROBE_TIMEOUT:-8}"

DEBIAN_PKGS="systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,procps,sudo,ca-certificates,gnupg"
EL_PKGS="systemd python3 dnf iproute procps-ng sudo rocky-release rocky-gpg-keys rocky-repos glibc-langpack-en"

log() { printf '%s\n' "$*" >&2; }

recipe_hash() {
    { cat "${BASH_SOURCE[0]}"; printf '%s\n' "$1" "$DEBIAN_PKGS" "$EL_PKGS"; } | sha256sum | cut -c1-12
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Drop images of this distro built from an older recipe (keeps the cache to one image).
prune_old() {
    local distro="$1" keep="$2" old
    for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "hpcai-lab/$distro"); do
        case "$old" in "$keep"|*:latest|*:dev) ;; *) docker rmi "$old" >/dev/null 2>&1 || true ;; esac
    done
}

finish_rootfs() {
    # Make a debootstrap/installroot tree boot cleanly as a container.
    local root="$1"
    rm -f "$root/etc/hostname"
    : > "$root/etc/machine-id"
    # Units that cannot work in a container and only add noise/failed state.
    for u in getty.target systemd-remount-fs.service systemd-udev-trigger.service \
             systemd-udevd.service systemd-modules-load.service \
             sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
             systemd-firstboot.service console-getty.service; do
        ln -sf /dev/null "$root/etc/systemd/system/$u"
    done
    # Keep images small: no docs/man pages installed later either.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/dnf/* || true
}

import_rootfs() {
    local root="$1" ref="$2" distro="$3" hash="$4"
    tar --numeric-owner -C "$root" -c . | docker import \
        -c 'CMD ["/sbin/init"]' \
        -c 'ENV container=docker' \
        -c "LABEL hpcai.lab.distro=$distro hpcai.lab.recipe=$hash" \
        - "$ref" >/dev/null
}

build_debian12() {
    local hash ref work
    hash="$(recipe_hash debian12)"
    ref="hpcai-lab/debian12:$hash"
    if image_exists "$ref"; then
        log "lab: image $ref is up to date (recipe $hash)"
    else
        command -v debootstrap >/dev/null || { log "lab: debootstrap is missing (apt-get install debootstrap)"; exit 1; }
        work="$(mktemp -d "${TMPDIR:-/tmp}/hpcai-debian12.XXXXXX")"
        trap 'rm -rf "$work"' RETURN
        mkdir -p "$CACHE/debootstrap-debs"
        log "lab: building $ref with debootstrap from $DEBIAN_MIRROR (about a minute)"
        debootstrap --variant=minbase --include="$DEBIAN_PKGS" \
            --cache-dir="$CACHE/debootstrap-debs" \
            bookworm "$work/rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 \
            || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
        printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$DEBIAN_MIRROR" "$DEBIAN_MIRROR" \
            > "$work/rootfs/etc/apt/sources.list"
        # docs and man pages are never needed in the lab
        cat > "$work/rootfs/etc/dpkg/dpkg.cfg.d/01-nodoc" <<'NODOC'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
NODOC
        finish_rootfs "$work/rootfs"
        import_rootfs "$work/rootfs" "$ref" debian12 "$hash"
        log "lab: built $ref"
    fi
    prune_old debian12 "$ref"
    docker tag "$ref" hpcai-lab/debian12:latest
    echo "$ref"
}

# Rocky: try a registry pull, then dnf --installroot from a mirror. Returns 1 when neither works.
build_rocky() {
    local major="$1" distro="rocky$1" hash ref work regimg
    hash="$(recipe_hash "$distro")"
    ref="hpcai-lab/$distro:$hash"
    if image_exists "$ref"; then
        log "lab: image $ref is up to date (recipe $hash)"
        prune_old "$distro" "$ref"; docker tag "$ref" "hpcai-lab/$distro:latest"; echo "$ref"; return 0
    fi
    regimg="ROCKY_REGISTRY_IMAGE_$major"; regimg="${!regimg}"
    if timeout "$((PROBE_TIMEOUT * 4))" docker pull -q "$regimg" >/dev/null 2>&1; then
        log "lab: pulled $regimg; adding systemd and python3"
        work="$(mktemp -d)"; trap 'rm -rf "$work"' RETURN
        printf 'FROM %s\nRUN dnf -y install systemd python3 iproute procps-ng sudo && dnf clean all\nCMD ["/sbin/init"]\nLABEL hpcai.lab.distro=%s hpcai.lab.recipe=%s\n' \
            "$regimg" "$distro" "$hash" > "$work/Dockerfile"
        docker build -q -t "$ref" "$work" >/dev/null
        prune_old "$distro" "$ref"; docker tag "$ref" "hpcai-lab/$distro:latest"; echo "$ref"; return 0
    fi
    if command -v dnf >/dev/null && curl -fsS -m "$PROBE_TIMEOUT" -o /dev/null \
            "$ROCKY_MIRROR/$major/BaseOS/x86_64/os/repodata/repomd.xml" 2>/dev/null; then
        work="$(mktemp -d)"; trap 'rm -rf "$work"' RETURN
        log "lab: building $ref with dnf --installroot from $ROCKY_MIRROR"
        cat > "$work/rocky.repo" <<REPO
[baseos]
name=Rocky $major BaseOS
baseurl=$ROCKY_MIRROR/$major/BaseOS/\$basearch/os/
gpgcheck=0
[appstream]
name=Rocky $major AppStream
baseurl=$ROCKY_MIRROR/$major/AppStream/\$basearch/os/
gpgcheck=0
REPO
        # shellcheck disable=SC2086
        dnf -y -q --installroot="$work/rootfs" --releasever="$major" \
            --setopt=reposdir="$work" --setopt=install_weak_deps=False \
            --setopt=tsflags=nodocs install $EL_PKGS >&2
        finish_rootfs "$work/rootfs"
        import_rootfs "$work/rootfs" "$ref" "$distro" "$hash"
        prune_old "$distro" "$ref"; docker tag "$ref" "hpcai-lab/$distro:latest"; echo "$ref"; return 0
    fi
    return 1
}

case "$DISTRO" in
    debian12) build_debian12 ;;
    rocky9|rocky10)
        if ! build_rocky "${DISTRO#rocky}"; then
            log "lab: WARNING: cannot fetch Rocky ${DISTRO#rocky} (no registry pull of ${ROCKY_REGISTRY_IMAGE_9%:*}, no mirror at $ROCKY_MIRROR); falling back to debian12 — EL paths are linted and rendered, not converged"
            build_debian12
        fi ;;
    *) log "lab: unknown distro '$DISTRO' (allowed: debian12, rocky9, rocky10)"; exit 2 ;;
esac
