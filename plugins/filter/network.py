# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster network filters backed by netaddr (they run on the controller).

``networks | hpcai.cluster.cidr_errors('base_cluster_networks')``
    One message per entry that is not an IPv4/IPv6 network in CIDR form with
    the host bits cleared, naming ``base_cluster_networks[i]``; [] when all
    are good.
``networks | hpcai.cluster.networks_of_version(4)``
    The valid IPv4 (or 6) entries, spelled as given.
``value | hpcai.cluster.ip_version``
    4 or 6 for an IP address literal, 0 for anything else.
``addresses | hpcai.cluster.address_in_networks(networks)``
    The first address (a list or one string) inside one of the networks, ''.
``ansible_facts | hpcai.cluster.cluster_address(address=, interface=, networks=, ansible_host=)``
    The address other nodes use for a host: address (base_cluster_address) >
    IPv4 of interface > first IPv4 inside an IPv4 network > default IPv4 >
    ansible_host when it is an IPv4 literal; '' when none applies.
``network | hpcai.cluster.allocate_addresses(hosts, offset=1, overrides=, reserved=, varname=)``
    {host: address} with address = network's first address + offset + index
    (the host's explicit index or its list position); per-host overrides,
    reserved addresses that computed ones must not hit; errors name varname.
``network | hpcai.cluster.host_address(index, offset=1, varname=)``
    One such address.

The logic lives in module_utils/cluster_network.py (plain functions, unit
tested without Ansible). netaddr must be installed where ansible runs
(requirements.txt pins it); without it the filters fail saying so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hpcai.cluster.plugins.module_utils import cluster_network as cn

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


def cidr_errors(networks, varname="networks"):
    return _call("cidr_errors", lambda: "checking %s" % varname, cn.network_errors, networks, varname)


def networks_of_version(networks, version):
    if str(version) not in ("4", "6"):
        raise AnsibleFilterError("hpcai.cluster.networks_of_version: version must be 4 or 6, got %r" % (version,))
    return _call("networks_of_version", lambda: "IPv%s entries of %s" % (version, networks),
                 cn.networks_of_version, networks, version)


def ip_version(value):
    return _call("ip_version", lambda: "IP version of %r" % (value,), cn.ip_version, value)


def address_in_networks(addresses, networks):
    return _call("address_in_networks", lambda: "addresses %s in networks %s" % (addresses, networks),
                 cn.address_in_networks, addresses, networks)


def cluster_address(facts, address="", interface="", networks=None, ansible_host=""):
    return _call("cluster_address",
                 lambda: ("cluster address from base_cluster_address '%s', base_cluster_interface '%s', "
                          "base_cluster_networks %s and the host's facts" % (address, interface, networks)),
                 cn.cluster_address, facts, address=address, interface=interface, networks=networks,
                 ansible_host=ansible_host)


def allocate_addresses(network, hosts, offset=1, overrides=None, reserved=None, varname="network"):
    return _call("allocate_addresses", lambda: "addresses in %s" % (varname,),
                 cn.allocate_addresses, network, hosts, offset=offset, overrides=overrides, reserved=reserved,
                 varname=varname)


def host_address(network, index, offset=1, varname="network"):
    return _call("host_address", lambda: "index %s in %s" % (index, varname),
                 cn.host_address, network, index, offset=offset, varname=varname)


class FilterModule(object):
    def filters(self):
        return {
            "cidr_errors": cidr_errors,
            "networks_of_version": networks_of_version,
            "ip_version": ip_version,
            "address_in_networks": address_in_networks,
            "cluster_address": cluster_address,
            "allocate_addresses": allocate_addresses,
            "host_address": host_address,
        }
