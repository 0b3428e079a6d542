# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared filesystem filters of the shared_fs role (they run on the controller).

``exports | hpcai.cluster.nfs_export_errors('shared_fs_nfs_exports')``
    One message per problem of the NFS exports (paths, client specs,
    exports(5) options and contradictions, duplicates, two NFSv4 roots); [].
``exports | hpcai.cluster.nfs_exports_lines``
    The lines of /etc/exports.d/hpcai.exports.
``options | hpcai.cluster.mount_options('nfs4', automount=true, nofail=true, idle_timeout=600, varname=)``
    The fstab option string: options, _netdev, nofail, x-systemd.automount and
    x-systemd.idle-timeout; contradictions fail naming varname.
``mounts | hpcai.cluster.mount_errors('shared_fs_mounts')``
    One message per problem of the client mounts (src syntax per fstype,
    mount points, options); [].
``mounts | hpcai.cluster.autofs_map_lines(mount_root=, direct=false)``
    The lines of an autofs indirect map (keys: last path component) or a
    direct map (keys: the full mount points).
``'/shared' | hpcai.cluster.autofs_master_line('/etc/auto.hpcai', timeout=600)``
    The auto.master.d line that mounts that map ('/-' for a direct map).
``hpcai_fabric | hpcai.cluster.lnet_networks(interfaces=, tcp_interface=, host_interfaces=)``
    The LNet networks= value, e.g. o2ib0(ib0),tcp0(eth0).
``networks | hpcai.cluster.lnet_errors('shared_fs_lnet_networks')``
    One message per problem of a given networks= value; [].

The logic lives in module_utils/shared_fs.py (plain functions, unit tested
without Ansible); netaddr checks the addresses (requirements.txt pins it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hpcai.cluster.plugins.module_utils import cluster_network as cn
from ansible_collections.hpcai.cluster.plugins.module_utils import shared_fs as sfs

_INSTALL_HINT = ("install it for the Python that runs ansible (pip install netaddr; "
                 "requirements.txt of hpcai.cluster pins it)")


def _call(filter_name, what, func, *args, **kwargs):
    """Run func; errors become AnsibleFilterError naming the filter and
    what() (a callable, so the description is only built on failure)."""
    try:
        return func(*args, **kwargs)
    except cn.MissingNetaddr as exc:
        raise AnsibleFilterError("hpcai.cluster.%s (%s): %s; %s" % (filter_name, what(), to_native(exc), _INSTALL_HINT))
    except (TypeError, ValueError, AttributeError) as exc:
        raise AnsibleFilterError("hpcai.cluster.%s (%s): %s" % (filter_name, what(), to_native(exc)))


def nfs_export_errors(exports, varname="shared_fs_nfs_exports", forbidden_roots=None):
    return _call("nfs_export_errors", lambda: "checking %s" % varname,
                 sfs.export_errors, exports, varname=varname, forbidden_roots=forbidden_roots)


def nfs_exports_lines(exports, default_options=None, varname="shared_fs_nfs_exports"):
    if default_options is None:
        default_options = sfs.EXPORT_DEFAULT_OPTIONS
    return _call("nfs_exports_lines", lambda: "exports lines of %s" % varname,
                 sfs.exports_lines, exports, default_options=default_options, varname=varname)


def mount_options(options, kind, automount=False, netdev=True, nofail=False,
                  idle_timeout=sfs.DEFAULT_IDLE_TIMEOUT, varname="options"):
    return _call("mount_options", lambda: "%s mount options in %s" % (kind, varname),
                 sfs.mount_options, kind, options, automount=automount, netdev=netdev, nofail=nofail,
                 idle_timeout=idle_timeout, varname=varname)


def mount_errors(mounts, varname="shared_fs_mounts", forbidden_roots=None):
    return _call("mount_errors", lambda: "checking %s" % varname,
                 sfs.mount_errors, mounts, varname=varname, forbidden_roots=forbidden_roots)


def autofs_map_lines(mounts, mount_root=None, direct=False, varname="shared_fs_mounts"):
    return _call("autofs_map_lines", lambda: "autofs map of %s" % varname,
                 sfs.autofs_map_lines, mounts, mount_root=mount_root, direct=direct, varname=varname)


def autofs_master_line(mount_root, map_file, timeout=sfs.DEFAULT_IDLE_TIMEOUT, options=None):
    return _call("autofs_master_line", lambda: "master map line for %s" % (mount_root,),
                 sfs.autofs_master_line, mount_root, map_file, timeout=timeout, options=options)


def lnet_networks(fabric_fact, preferred=None, interfaces=None, tcp_interface="", host_interfaces=None,
                  varname="shared_fs_lnet_interfaces"):
    if preferred is None:
        preferred = sfs.LNET_TYPES
    return _call("lnet_networks", lambda: "LNet networks from hpcai_fabric and %s" % varname,
                 sfs.lnet_networks, fabric_fact, preferred=preferred, interfaces=interfaces,
                 tcp_interface=tcp_interface, host_interfaces=host_interfaces, varname=varname)


def lnet_errors(networks, varname="shared_fs_lnet_networks"):
    return _call("lnet_errors", lambda: "checking %s" % varname, sfs.lnet_errors, networks, varname=varname)


class FilterModule(object):
    def filters(self):
        return {
            "nfs_export_errors": nfs_export_errors,
            "nfs_exports_lines": nfs_exports_lines,
            "mount_options": mount_options,
            "mount_errors": mount_errors,
            "autofs_map_lines": autofs_map_lines,
            "autofs_master_line": autofs_master_line,
            "lnet_networks": lnet_networks,
            "lnet_errors": lnet_errors,
        }
