"""Verify the shared_fs role (see ../molecule.yml, ../converge.yml).

The kernel of this machine has no nfsd and no nfs client (environment.md):
nothing may be exported or mounted - and nothing may be faked with a bind
mount. What is checked: the exports, directories, fstab entries, the autofs
direct map, and that Lmod works with the shared module path.
"""
import pytest


def name(host):
    return host.backend.get_hostname()


def fstab(host):
    out = {}
    for line in host.file("/etc/fstab").content_string.splitlines():
        fields = line.split()
        if len(fields) >= 4 and not fields[0].startswith("#"):
            out[fields[1]] = {"src": fields[0], "fstype": fields[2], "options": fields[3].split(",")}
    return out


def exports(host):
    lines = [line.strip() for line in host.file("/etc/exports.d/hpcai.exports").content_string.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_exports_on_the_server_only(host):
    f = host.file("/etc/exports.d/hpcai.exports")
    if name(host) != "sfs-server":
        assert not f.exists
        return
    assert f.user == "root" and f.mode == 0o644
    lines = exports(host)
    assert "/srv/home 172.30.91.0/24(rw,sync,no_subtree_check,root_squash)" in lines
    apps = [line for line in lines if line.startswith("/srv/apps ")]
    assert len(apps) == 1 and "*(ro" in apps[0] and "172.30.91.0/24(rw" in apps[0] and "no_root_squash" in apps[0]
    # no options given: the role's defaults
    assert "/srv/scratch 172.30.91.0/24(rw,sync,no_subtree_check,root_squash)" in lines


@pytest.mark.parametrize("path,mode,group", [("/srv/home", 0o755, "root"), ("/srv/apps", 0o775, "users"),
                                             ("/srv/scratch", 0o1777, "root")])
def test_exported_directories(host, path, mode, group):
    d = host.file(path)
    if name(host) != "sfs-server":
        assert not d.exists
        return
    assert d.is_directory and d.mode == mode and d.group == group and d.user == "root"


def test_nfsd_threads(host):
    if name(host) != "sfs-server":
        pytest.skip("server only")
    assert "threads=32" in host.file("/etc/nfs.conf").content_string.replace(" ", "")


def test_nothing_is_exported_or_mounted_without_kernel_support(host):
    filesystems = host.file("/proc/filesystems").content_string.split()
    assert "nfs" not in filesystems and "nfsd" not in filesystems, "this test assumes a kernel without NFS"
    mounts = host.check_output("cat /proc/self/mounts")
    for path in ("/home/shared", "/apps", "/scratch", "/srv/home"):
        assert f" {path} " not in mounts, f"{path} is mounted although the kernel cannot mount NFS"


def test_fstab_entries_on_the_fstab_client(host):
    entries = fstab(host)
    if name(host) != "sfs-c01":
        for path in ("/home/shared", "/apps"):
            if name(host) == "sfs-c02":
                assert path not in entries, "autofs client must not have fstab entries for NFS"
        if name(host) == "sfs-server":
            assert "/home/shared" not in entries
        return
    home = entries["/home/shared"]
    assert home["src"] == "sfs-server:/srv/home" and home["fstype"] == "nfs4"
    assert {"hard", "vers=4.2", "_netdev", "x-systemd.automount"} <= set(home["options"])
    apps = entries["/apps"]
    assert {"ro", "hard", "_netdev"} <= set(apps["options"]) and "x-systemd.automount" not in apps["options"]
    scratch = entries["/scratch"]
    assert scratch["fstype"] == "nfs" and {"vers=3", "nofail", "_netdev"} <= set(scratch["options"])
    for path in ("/home/shared", "/apps", "/scratch"):
        assert host.file(path).is_directory


def test_autofs_direct_map_on_the_autofs_client(host):
    master = host.file("/etc/auto.master.d/hpcai.autofs")
    amap = host.file("/etc/auto.hpcai")
    if name(host) != "sfs-c02":
        assert not master.exists and not amap.exists
        return
    assert "/- /etc/auto.hpcai --timeout=600" in master.content_string
    lines = {line.split()[0]: line.split() for line in amap.content_string.splitlines()
             if line.strip() and not line.startswith("#")}
    assert set(lines) == {"/home/shared", "/apps", "/scratch"}
    home = lines["/home/shared"]
    assert home[1].startswith("-fstype=nfs4,") and "hard" in home[1] and home[2] == "sfs-server:/srv/home"
    assert "_netdev" not in home[1]
    assert host.package("autofs").is_installed


def test_lmod_uses_the_shared_module_tree(host):
    with host.sudo():
        host.run_expect([0], "mkdir -p /apps/modulefiles/hpcai-test && "
                             "printf 'whatis(\"test\")\\n' > /apps/modulefiles/hpcai-test/1.0.lua")
        try:
            out = host.run("bash -lc 'module -t avail 2>&1'")
            assert out.rc == 0, out.stderr
            assert "hpcai-test/1.0" in out.stdout
        finally:
            host.run("rm -rf /apps/modulefiles/hpcai-test")


def test_no_kernel_guard_record_without_beegfs_or_lustre(host):
    assert not host.file("/etc/ansible/facts.d/hpcai_kernel_guard_shared_fs.fact").exists
