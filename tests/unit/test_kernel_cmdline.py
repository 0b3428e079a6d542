# -*- coding: utf-8 -*-
"""Tests for plugins/module_utils/kernel_cmdline.py (pure planner, parsers, renderers)."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.hpcai.cluster.plugins.module_utils.kernel_cmdline import (
    MARKER,
    KernelCmdlineError,
    arg_key,
    check_grub_safe,
    format_argv,
    grub_d_plan,
    grubby_argv,
    grubby_plan,
    join_cmdline,
    kernel_part,
    parse_dropin,
    parse_grub_defaults,
    parse_grubby_info,
    plan,
    reboot_check,
    render_dropin,
    split_cmdline,
    validate,
)

# Rocky Linux 9.5 with two kernels, a tuned-managed entry and the rescue entry, as
# `grubby --info=ALL` prints it (grubby-8.40-61.el9): quoted values, root= split
# out of args, $tuned_params / $tuned_initrd left as BLS variables.
EL9_INFO = """\
index=0
kernel="/boot/vmlinuz-5.14.0-503.14.1.el9_5.x86_64"
args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap rhgb quiet $tuned_params"
root="/dev/mapper/rl-root"
initrd="/boot/initramfs-5.14.0-503.14.1.el9_5.x86_64.img $tuned_initrd"
title="Rocky Linux (5.14.0-503.14.1.el9_5.x86_64) 9.5 (Blue Onyx)"
id="3f1c2b8f0e6d4f5a9b7c1d2e3f4a5b6c-5.14.0-503.14.1.el9_5.x86_64"
index=1
kernel="/boot/vmlinuz-5.14.0-427.42.1.el9_4.x86_64"
args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap rhgb quiet iommu=off"
root="/dev/mapper/rl-root"
initrd="/boot/initramfs-5.14.0-427.42.1.el9_4.x86_64.img"
title="Rocky Linux (5.14.0-427.42.1.el9_4.x86_64) 9.4 (Blue Onyx)"
id="3f1c2b8f0e6d4f5a9b7c1d2e3f4a5b6c-5.14.0-427.42.1.el9_4.x86_64"
index=2
kernel="/boot/vmlinuz-0-rescue-3f1c2b8f0e6d4f5a9b7c1d2e3f4a5b6c"
args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap"
root="/dev/mapper/rl-root"
initrd="/boot/initramfs-0-rescue-3f1c2b8f0e6d4f5a9b7c1d2e3f4a5b6c.img"
title="Rocky Linux (0-rescue-3f1c2b8f0e6d4f5a9b7c1d2e3f4a5b6c) 9.5 (Blue Onyx)"
id="3f1c2b8f0e6d4f5a9b7c1d2e3f4a5b6c-0-rescue"
"""

# The same entries after `grubby --update-kernel=ALL --remove-args="iommu rhgb" --args="iommu=pt amd_pstate=active"`.
EL9_INFO_DONE = """\
index=0
kernel="/boot/vmlinuz-5.14.0-503.14.1.el9_5.x86_64"
args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root quiet $tuned_params iommu=pt amd_pstate=active"
root="/dev/mapper/rl-root"
title="Rocky Linux (5.14.0-503.14.1.el9_5.x86_64) 9.5 (Blue Onyx)"
index=1
kernel="/boot/vmlinuz-5.14.0-427.42.1.el9_4.x86_64"
args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap quiet iommu=pt amd_pstate=active"
root="/dev/mapper/rl-root"
title="Rocky Linux (5.14.0-427.42.1.el9_4.x86_64) 9.4 (Blue Onyx)"
index=2
kernel="/boot/vmlinuz-0-rescue-3f1c2b8f0e6d4f5a9b7c1d2e3f4a5b6c"
args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap iommu=pt amd_pstate=active"
root="/dev/mapper/rl-root"
title="Rocky Linux (0-rescue-3f1c2b8f0e6d4f5a9b7c1d2e3f4a5b6c) 9.5 (Blue Onyx)"
"""

WANT = ["iommu=pt", "amd_pstate=active"]


# --------------------------------------------------------------------------
# split / key / join
# --------------------------------------------------------------------------


def test_split_plain_and_whitespace():
    assert split_cmdline("  ro\tquiet \n iommu=pt  ") == ["ro", "quiet", "iommu=pt"]
    assert split_cmdline("") == []
    assert split_cmdline(None) == []


def test_split_quotes_kept_and_group_spaces():
    text = 'ro dyndbg="file drivers/x.c +p" "acpi_osi=Linux foo" quiet'
    assert split_cmdline(text) == ["ro", 'dyndbg="file drivers/x.c +p"', '"acpi_osi=Linux foo"', "quiet"]


def test_split_unbalanced_quote_runs_to_end():
    assert split_cmdline('a b="c d e') == ["a", 'b="c d e']


def test_split_keeps_init_args_after_double_dash():
    tokens = split_cmdline("ro iommu=pt -- single emergency")
    assert tokens == ["ro", "iommu=pt", "--", "single", "emergency"]
    assert kernel_part(tokens) == (["ro", "iommu=pt"], ["--", "single", "emergency"])
    assert kernel_part(["a", "b"]) == (["a", "b"], [])


def test_arg_key():
    assert arg_key("iommu=pt") == "iommu"
    assert arg_key("nosmt") == "nosmt"
    assert arg_key("isolcpus=managed_irq,domain,2-7") == "isolcpus"
    assert arg_key("rd.lvm.lv=rl/root") == "rd.lvm.lv"
    assert arg_key("foo=a=b") == "foo"
    assert arg_key('dyndbg="x=1 y"') == "dyndbg"


def test_join_round_trip():
    text = 'ro foo="a b" quiet -- single'
    assert join_cmdline(split_cmdline(text)) == text


# --------------------------------------------------------------------------
# validate
# --------------------------------------------------------------------------


def test_validate_accepts_and_dedups_remove():
    args, remove = validate(["iommu=pt", "nosmt", 'dyndbg="a b"'], ["rhgb", "quiet", "rhgb"])
    assert args == ["iommu=pt", "nosmt", 'dyndbg="a b"']
    assert remove == ["rhgb", "quiet"]
    assert validate(None, None) == ([], [])


def test_validate_duplicate_key_names_option_and_key():
    with pytest.raises(KernelCmdlineError) as exc:
        validate(["iommu=pt", "quiet", "iommu=off"], [])
    msg = str(exc.value)
    assert msg.startswith("args:")
    assert "'iommu'" in msg and "iommu=pt" in msg and "iommu=off" in msg


def test_validate_flag_and_value_share_a_key():
    with pytest.raises(KernelCmdlineError, match="nosmt"):
        validate(["nosmt", "nosmt=force"], [])


@pytest.mark.parametrize("bad", ["iommu=pt amd_pstate=active", "hugepagesz=1G hugepages=16", "", "  ",
                                 "--", "=x", 'a="b', "a=\tb", "x\ny"])
def test_validate_rejects_bad_args(bad):
    with pytest.raises(KernelCmdlineError) as exc:
        validate([bad], [])
    assert str(exc.value).startswith("args:")


@pytest.mark.parametrize("bad", ["quiet=1", "a b", '"q"', "", "--"])
def test_validate_rejects_bad_remove(bad):
    with pytest.raises(KernelCmdlineError) as exc:
        validate([], [bad])
    assert str(exc.value).startswith("remove:")


def test_validate_key_in_args_and_remove():
    with pytest.raises(KernelCmdlineError, match="remove: key 'iommu' is also in args"):
        validate(["iommu=pt"], ["iommu"])


def test_validate_option_names_are_configurable():
    with pytest.raises(KernelCmdlineError, match="^kernel_tuning_cmdline_extra:"):
        validate(["a b"], [], args_option="kernel_tuning_cmdline_extra")


# --------------------------------------------------------------------------
# plan
# --------------------------------------------------------------------------


def test_plan_in_sync_returns_tokens_unchanged():
    cur = split_cmdline("ro amd_pstate=active quiet iommu=pt")
    result = plan(cur, WANT, ["rhgb"])
    assert result == {"in_sync": True, "remove": [], "add": [], "tokens": cur}


def test_plan_missing_arg_is_added_in_args_order():
    result = plan(split_cmdline("ro quiet"), ["iommu=pt", "nosmt", "amd_pstate=active"], [])
    assert result["in_sync"] is False
    assert result["remove"] == []
    assert result["add"] == ["iommu=pt", "nosmt", "amd_pstate=active"]
    assert result["tokens"] == ["ro", "quiet", "iommu=pt", "nosmt", "amd_pstate=active"]


def test_plan_changed_value_is_removed_then_added():
    result = plan(split_cmdline("ro iommu=off quiet amd_pstate=active"), WANT, [])
    assert result["remove"] == ["iommu"]
    assert result["add"] == ["iommu=pt"]
    # amd_pstate=active was right: it keeps its place
    assert result["tokens"] == ["ro", "quiet", "amd_pstate=active", "iommu=pt"]


def test_plan_duplicate_occurrence_is_out_of_sync():
    result = plan(split_cmdline("ro iommu=pt quiet iommu=pt"), ["iommu=pt"], [])
    assert result["in_sync"] is False
    assert result["remove"] == ["iommu"]
    assert result["tokens"] == ["ro", "quiet", "iommu=pt"]


def test_plan_same_key_other_value_twice():
    result = plan(split_cmdline("iommu=off iommu=pt"), ["iommu=pt"], [])
    assert result["in_sync"] is False and result["tokens"] == ["iommu=pt"]


def test_plan_flags():
    # a bare flag is its own key; nosmt=force is the same key with a value
    assert plan(["ro", "nosmt"], ["nosmt"], [])["in_sync"] is True
    result = plan(["ro", "nosmt=force"], ["nosmt"], [])
    assert result["remove"] == ["nosmt"] and result["add"] == ["nosmt"]
    assert result["tokens"] == ["ro", "nosmt"]
    # nosmt is not a prefix match for nosmt_something
    assert plan(["nosmt_x"], [], ["nosmt"])["in_sync"] is True


def test_plan_remove_keys_present_any_value():
    result = plan(split_cmdline("ro rhgb quiet transparent_hugepage=never"), [], ["rhgb", "transparent_hugepage", "nope"])
    assert result["in_sync"] is False
    assert result["remove"] == ["rhgb", "transparent_hugepage"]
    assert result["add"] == []
    assert result["tokens"] == ["ro", "quiet"]


def test_plan_absent_remove_keys_are_in_sync():
    assert plan(["ro", "quiet"], [], ["rhgb"])["in_sync"] is True


def test_plan_never_touches_init_args():
    cur = split_cmdline("ro rhgb -- rhgb iommu=off")
    result = plan(cur, ["iommu=pt"], ["rhgb"])
    assert result["remove"] == ["rhgb"]
    assert result["tokens"] == ["ro", "iommu=pt", "--", "rhgb", "iommu=off"]
    # after --, iommu=off does not count as the kernel's
    assert plan(split_cmdline("iommu=pt -- iommu=off"), ["iommu=pt"], [])["in_sync"] is True


def test_plan_quoted_value():
    assert plan(split_cmdline('ro dyndbg="a b"'), ['dyndbg="a b"'], [])["in_sync"] is True
    result = plan(split_cmdline('ro dyndbg="a c"'), ['dyndbg="a b"'], [])
    assert result["remove"] == ["dyndbg"] and result["tokens"] == ["ro", 'dyndbg="a b"']


# --------------------------------------------------------------------------
# grubby
# --------------------------------------------------------------------------


def test_parse_grubby_info_el9():
    entries = parse_grubby_info(EL9_INFO)
    assert [e["index"] for e in entries] == [0, 1, 2]
    assert entries[0]["kernel"] == "/boot/vmlinuz-5.14.0-503.14.1.el9_5.x86_64"
    assert entries[0]["root"] == "/dev/mapper/rl-root"
    assert entries[0]["title"] == "Rocky Linux (5.14.0-503.14.1.el9_5.x86_64) 9.5 (Blue Onyx)"
    assert entries[0]["tokens"][-1] == "$tuned_params"
    assert entries[0]["tokens"][1] == "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M"
    assert "iommu=off" in entries[1]["tokens"]
    assert entries[2]["kernel"].startswith("/boot/vmlinuz-0-rescue-")
    assert "rhgb" not in entries[2]["tokens"]


def test_parse_grubby_info_unquoted_and_inner_quotes_and_junk():
    text = ("index=0\nkernel=/boot/vmlinuz-4.18.0\nargs=\"ro dyndbg=\"a b\" quiet\"\nroot=UUID=abcd\n"
            "index=1\nnon linux entry\nindex=2\nkernel=/boot/vmlinuz-x\n")
    entries = parse_grubby_info(text)
    assert [e["index"] for e in entries] == [0, 2]
    assert entries[0]["kernel"] == "/boot/vmlinuz-4.18.0"
    assert entries[0]["tokens"] == ["ro", 'dyndbg="a b"', "quiet"]
    assert entries[1]["args"] == "" and entries[1]["tokens"] == []
    assert parse_grubby_info("") == []


def test_grubby_plan_el9_one_command_for_all_entries():
    entries = parse_grubby_info(EL9_INFO)
    result = grubby_plan(entries, WANT, ["rhgb"])
    assert [e["in_sync"] for e in result["entries"]] == [False, False, False]
    assert result["in_sync"] is False
    # iommu (other value on entry 1) and rhgb (entries 0 and 1), in args-then-remove order
    assert result["remove"] == ["iommu", "rhgb"]
    assert result["add"] == WANT
    # $tuned_params is not ours: it stays where it was
    assert result["entries"][0]["plan"]["tokens"][-3:] == ["$tuned_params", "iommu=pt", "amd_pstate=active"]
    argv = grubby_argv(result["remove"], result["add"], grubby="/usr/sbin/grubby")
    assert argv == ["/usr/sbin/grubby", "--update-kernel=ALL", "--remove-args=iommu rhgb",
                    "--args=iommu=pt amd_pstate=active"]


def test_grubby_plan_after_change_is_in_sync():
    result = grubby_plan(parse_grubby_info(EL9_INFO_DONE), WANT, ["rhgb"])
    assert result["in_sync"] is True
    assert result["remove"] == [] and result["add"] == []
    assert grubby_argv(result["remove"], result["add"]) is None


def test_grubby_plan_one_entry_out_of_sync():
    text = EL9_INFO_DONE.replace("rl/swap iommu=pt amd_pstate=active\"", "rl/swap iommu=pt\"")
    result = grubby_plan(parse_grubby_info(text), WANT, [])
    assert [e["in_sync"] for e in result["entries"]] == [True, True, False]
    assert result["remove"] == []
    assert result["add"] == ["amd_pstate=active"]


def test_grubby_argv_variants():
    assert grubby_argv([], ["nosmt"]) == ["grubby", "--update-kernel=ALL", "--args=nosmt"]
    assert grubby_argv(["rhgb"], []) == ["grubby", "--update-kernel=ALL", "--remove-args=rhgb"]
    assert grubby_argv(["rhgb"], [], bls_directory="/t/boot/loader/entries") == [
        "grubby", "--update-kernel=ALL", "--bls-directory=/t/boot/loader/entries", "--remove-args=rhgb"]


def test_format_argv_quotes_only_what_needs_it():
    assert format_argv(["grubby", "--update-kernel=ALL", "--args=iommu=pt nosmt"]) == \
        "grubby --update-kernel=ALL '--args=iommu=pt nosmt'"
    assert format_argv(["x", "it's"]) == "x 'it'\"'\"'s'"


# --------------------------------------------------------------------------
# grub.d
# --------------------------------------------------------------------------


def test_render_dropin_content():
    text = render_dropin(WANT)
    lines = text.splitlines()
    assert lines[0].startswith(MARKER + ":")
    assert lines[-1] == 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX iommu=pt amd_pstate=active"'
    assert text.endswith("\n")
    assert render_dropin([]) is None


@pytest.mark.parametrize("args", [["iommu=pt"], WANT, ["isolcpus=managed_irq,domain,2-7", "nohz_full=2-7", "nosmt"],
                                  ["hugepages=0:16,1:16", "rd.lvm.lv=vg/root"]])
def test_dropin_round_trip(args):
    assert parse_dropin(render_dropin(args)) == args


def test_parse_dropin_variants():
    assert parse_dropin(None) is None
    assert parse_dropin("# nothing\nGRUB_TIMEOUT=5\n") is None
    assert parse_dropin('GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} a=1"\n') == ["a=1"]
    assert parse_dropin('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX"\n') == []
    # a plain assignment is not an append: not ours
    assert parse_dropin('GRUB_CMDLINE_LINUX="a=1"\n') is None


@pytest.mark.parametrize("bad", ['dyndbg="a b"', "a=$(reboot)", "a=`id`", "a=\\x", "a=1;reboot", "a=1|b", "a='x'",
                                 "a=1&", "a=<b>"])
def test_render_refuses_unsafe(bad):
    with pytest.raises(KernelCmdlineError) as exc:
        render_dropin(["iommu=pt", bad])
    msg = str(exc.value)
    assert msg.startswith("args:") and "grub_d" in msg and repr(bad) in msg


def test_check_grub_safe_accepts_usual_params():
    for arg in ("iommu=pt", "isolcpus=managed_irq,domain,2-7", "console=ttyS0,115200n8", "rd.lvm.lv=rl/root",
                "crashkernel=1G-4G:192M,4G-64G:256M", "hugepages=0:16,1:16", "nosmt", "mitigations=auto,nosmt"):
        check_grub_safe(arg)


DEBIAN_GRUB = """\
# If you change this file, run 'update-grub' afterwards to update
GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="console=tty0 iommu=off"
"""


def test_parse_grub_defaults_debian():
    values = parse_grub_defaults([DEBIAN_GRUB])
    assert values == {"GRUB_CMDLINE_LINUX": "console=tty0 iommu=off", "GRUB_CMDLINE_LINUX_DEFAULT": "quiet"}


def test_parse_grub_defaults_chain_and_quotes():
    texts = [
        "GRUB_CMDLINE_LINUX='a=1 b'\n# GRUB_CMDLINE_LINUX=commented\n",
        'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX c=2"\nexport GRUB_CMDLINE_LINUX_DEFAULT=d\n',
        'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} e=\\"f\\""  # trailing comment\n',
    ]
    values = parse_grub_defaults(texts)
    assert values["GRUB_CMDLINE_LINUX"] == 'a=1 b c=2 e="f"'
    assert values["GRUB_CMDLINE_LINUX_DEFAULT"] == "d"


def test_grub_d_plan_new_file_and_idempotence():
    first = grub_d_plan(None, WANT, [], other_texts_before=[DEBIAN_GRUB])
    assert first["changed"] is True
    assert first["previous"] == []
    assert parse_dropin(first["content"]) == WANT
    # iommu=pt comes after iommu=off from /etc/default/grub: it wins, no warning
    assert first["warnings"] == []
    assert first["effective"] == ["console=tty0", "iommu=off", "iommu=pt", "amd_pstate=active", "quiet"]
    second = grub_d_plan(first["content"], WANT, [], other_texts_before=[DEBIAN_GRUB])
    assert second["changed"] is False
    assert second["previous"] == WANT
    assert second["removed_keys"] == []


def test_grub_d_plan_remove_own_key_vs_foreign_key():
    old = render_dropin(["iommu=pt", "nosmt"])
    result = grub_d_plan(old, ["iommu=pt"], ["nosmt", "quiet", "console", "absent"], other_texts_before=[DEBIAN_GRUB])
    assert result["changed"] is True
    # nosmt was only in our own drop-in: dropping it from the file removes it
    assert result["removed_keys"] == ["nosmt"]
    assert parse_dropin(result["content"]) == ["iommu=pt"]
    # quiet / console come from /etc/default/grub: not removable from a drop-in; absent: nothing to do
    assert [item["key"] for item in result["not_removable"]] == ["quiet", "console"]
    assert "GRUB_CMDLINE_LINUX_DEFAULT" in result["not_removable"][0]["reason"]
    assert "only append" in result["not_removable"][1]["reason"]


def test_grub_d_plan_dropped_arg_counts_as_removed():
    old = render_dropin(["iommu=pt", "amd_pstate=active"])
    result = grub_d_plan(old, ["iommu=pt"], [])
    assert result["removed_keys"] == ["amd_pstate"]
    # ...unless the system config sets the key anyway
    result = grub_d_plan(old, ["iommu=pt"], [], other_texts_before=['GRUB_CMDLINE_LINUX="amd_pstate=passive"\n'])
    assert result["removed_keys"] == []


def test_grub_d_plan_empty_args_removes_file():
    result = grub_d_plan(render_dropin(WANT), [], [])
    assert result["content"] is None and result["changed"] is True
    assert result["removed_keys"] == ["iommu", "amd_pstate"]
    assert grub_d_plan(None, [], [])["changed"] is False


def test_grub_d_plan_warns_about_overrides():
    default_override = grub_d_plan(None, ["iommu=pt"], [],
                                   other_texts_before=['GRUB_CMDLINE_LINUX_DEFAULT="quiet iommu=off"\n'])
    assert len(default_override["warnings"]) == 1
    assert "GRUB_CMDLINE_LINUX_DEFAULT sets iommu=off" in default_override["warnings"][0]
    reset_later = grub_d_plan(None, ["iommu=pt"], [], other_texts_after=['GRUB_CMDLINE_LINUX="console=ttyS0"\n'])
    assert "resets GRUB_CMDLINE_LINUX" in reset_later["warnings"][0]
    append_later = grub_d_plan(None, ["iommu=pt"], [],
                               other_texts_after=['GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX iommu=nopt"\n'])
    assert "appends iommu=nopt" in append_later["warnings"][0]
    # an earlier different value is fine: ours comes last
    assert grub_d_plan(None, ["iommu=pt"], [], other_texts_before=['GRUB_CMDLINE_LINUX="iommu=off"\n'])["warnings"] == []


# --------------------------------------------------------------------------
# reboot check
# --------------------------------------------------------------------------

PROC = "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-503.14.1.el9_5.x86_64 root=/dev/mapper/rl-root ro rhgb quiet"


def test_reboot_check_missing_and_still_active():
    needed, reasons = reboot_check(split_cmdline(PROC), WANT, ["rhgb"])
    assert needed is True
    assert reasons == [
        "iommu=pt is not on the running kernel's command line",
        "amd_pstate=active is not on the running kernel's command line",
        "rhgb is still on the running kernel's command line (rhgb)",
    ]


def test_reboot_check_all_active():
    proc = split_cmdline(PROC.replace(" rhgb", "") + " iommu=pt amd_pstate=active")
    assert reboot_check(proc, WANT, ["rhgb"]) == (False, [])


def test_reboot_check_last_occurrence_wins():
    assert reboot_check(split_cmdline("iommu=off quiet iommu=pt"), ["iommu=pt"], []) == (False, [])
    needed, reasons = reboot_check(split_cmdline("iommu=pt quiet iommu=off"), ["iommu=pt"], [])
    assert needed and reasons == ["iommu=pt is not active: the running kernel has iommu=pt iommu=off"]


def test_reboot_check_ignores_keys_and_init_args():
    assert reboot_check(split_cmdline("ro quiet -- iommu=pt"), [], ["quiet"], ignore_keys=["quiet"]) == (False, [])
    needed, reasons = reboot_check(split_cmdline("ro -- iommu=pt"), ["iommu=pt"], [])
    assert needed and "not on the running kernel" in reasons[0]
    assert reboot_check(None, [], []) == (False, [])
