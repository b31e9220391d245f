# Sourced by the container tests (systemd-boot-test.sh, package-test.sh):
# nsroot_copy DIR makes DIR a fresh copy of one debootstrapped Debian root,
# made once (about a minute from the Debian mirror apt uses) and kept in
# target/nsroot/base for later runs. Root only.
nsroot_base=${FAILOVERD_NSROOT_BASE:-target/nsroot/base}

nsroot_base() {
    if [ ! -f "$nsroot_base/.complete" ]; then
        rm -rf "$nsroot_base"
        mkdir -p "$(dirname "$nsroot_base")"
        debootstrap --variant=minbase \
            --include=systemd,systemd-sysv,dbus,procps,man-db,bash-completion \
            bookworm "$nsroot_base" >/dev/null
        touch "$nsroot_base/.complete"
    fi
}

nsroot_copy() {
    nsroot_base
    rm -rf "$1"
    cp -a --reflink=auto "$nsroot_base" "$1"
}
