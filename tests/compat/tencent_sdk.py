#!/usr/bin/env python3
"""Compatibility check: drive a running `groupdeck serve` with Tencent Cloud
Chat's third-party Python server SDK, tencentcloud-sdk-python-im 0.9.4
(`tencentcloud_im.tcim_client.TCIMClient`, which signs with the reference
signer `tls-sig-api-v2` and posts with `requests`).

Every group operation goes through the SDK's public methods only; the one part
that builds requests by hand is the UserSig interop check at the end (a ticket
minted by `groupdeck usersig` used on a raw `/v4` request).

Usage:
    tencent_sdk.py BASE_URL APP_ID KEY ADMIN --groupdeck BIN --key-file FILE

BASE_URL is the `/v4` root, e.g. http://127.0.0.1:9090/v4. Prints one line per
check (PASS ... / FAIL ...: details) and ends with `N passed, M failed`; exits
1 when any check failed. The SDK sets no timeout on its requests, so the
caller must bound the whole run (tests/compat.rs kills it after a deadline);
`--deadline` is a second, in-process bound (SIGALRM) that reports which step
hung.

User IDs and the custom group ID carry a random tag and totals are measured
against a baseline, so the script can run more than once against one server.
"""

import argparse
import base64
import json
import random
import signal
import subprocess
import sys
import traceback
import zlib

import requests
from TLSSigAPIv2 import TLSSigAPIv2
from tencentcloud_im.tcim_client import GroupMemObj, GroupObj, TCIMClient

# Timeout for the requests this script builds itself (the SDK has none).
HTTP_TIMEOUT = 10


class Deadline(BaseException):
    """Raised by SIGALRM. A BaseException, so the SDK's `except Exception`
    (which logs and returns None) cannot swallow it."""


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.step = "start"

    def ok(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}", flush=True)
        return cond

    def eq(self, name, actual, expected, resp=None):
        return self.ok(
            name,
            actual == expected,
            f"expected {expected!r}, got {actual!r}{context(resp)}",
        )

    def reply(self, name, resp, code=0):
        """Checks one reply's envelope: HTTP 200, a JSON object,
        ActionStatus OK with ErrorCode 0 (or FAIL with `code`).
        Returns the body (an empty dict when it is unusable)."""
        want_status = "OK" if code == 0 else "FAIL"
        label = f"{name} -> {want_status} {code}"
        if resp is None:
            self.ok(label, False, "the SDK returned None (it logs and swallows request errors)")
            return {}
        body = None
        try:
            body = resp.json()
        except ValueError:
            pass
        if resp.status_code != 200 or not isinstance(body, dict):
            self.ok(label, False, f"HTTP {resp.status_code}, body {resp.text[:500]!r}{context(resp, False)}")
            return {}
        got = (body.get("ActionStatus"), body.get("ErrorCode"))
        self.ok(
            label,
            got == (want_status, code),
            f"expected ActionStatus {want_status!r} ErrorCode {code}, "
            f"got {got[0]!r} {got[1]!r} (ErrorInfo {body.get('ErrorInfo')!r}){context(resp)}",
        )
        return body


def context(resp, with_reply=True):
    """Request line and body of a reply, for failure messages."""
    if resp is None:
        return ""
    req = resp.request
    path = req.path_url.split("?", 1)[0]
    body = req.body.decode() if isinstance(req.body, bytes) else req.body
    out = f"; request POST {path} body {body}"
    if with_reply:
        out += f"; reply {resp.text[:800]}"
    return out


def accounts(members):
    return sorted(m.get("Member_Account") for m in members or [])


def roles(members):
    return {m.get("Member_Account"): m.get("Role") for m in members or []}


def item(body, index=0):
    lst = body.get("GroupInfo") or []
    return lst[index] if len(lst) > index else {}


def created_type(c, typ, body, resp):
    """`create_group` replies may carry `Type` (newer Tencent replies); when
    they do it is the legacy REST spelling."""
    c.eq(f"create_group({typ}) reply Type, if present", body.get("Type", typ), typ, resp)


def decode_usersig(sig):
    raw = sig.replace("*", "+").replace("-", "/").replace("_", "=")
    return json.loads(zlib.decompress(base64.b64decode(raw)))


def raw_post(base, command, app_id, identifier, usersig, body):
    """A /v4 call built by hand (only for the UserSig interop checks)."""
    params = {
        "sdkappid": app_id,
        "identifier": identifier,
        "usersig": usersig,
        "random": random.randint(0, 4294967295),
        "contenttype": "json",
    }
    return requests.post(
        f"{base}/group_open_http_svc/{command}",
        params=params,
        data=json.dumps(body),
        timeout=HTTP_TIMEOUT,
    )


def groupdeck_usersig(args, user):
    out = subprocess.run(
        [
            args.groupdeck,
            "usersig",
            "--user",
            user,
            "--key-file",
            args.key_file,
            "--app-id",
            str(args.app_id),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.returncode, out.stdout.strip(), out.stderr.strip()


def all_group_ids(c, sdk, name, group_type=""):
    body = c.reply(name, sdk.get_group(group_type=group_type))
    ids = [g.get("GroupId") for g in body.get("GroupIdList") or []]
    return body, ids


def run(c, args):
    base = args.base_url.rstrip("/")
    app_id = args.app_id
    admin = args.admin
    tag = "%06x" % random.randrange(1 << 24)
    alice, bob, carol, dave, erin, frank = (
        f"{n}_{tag}" for n in ("alice", "bob", "carol", "dave", "erin", "frank")
    )
    ghost = f"ghost_{tag}"
    sdk = TCIMClient(app_id, args.key, admin, tencent_url=base)

    c.step = "baseline"
    base_all, base_ids = all_group_ids(c, sdk, "get_group() baseline")
    base_total = base_all.get("TotalCount")
    c.eq("get_group() baseline TotalCount matches the list", base_total, len(base_ids), None)
    base_private, _ = all_group_ids(c, sdk, "get_group(Private) baseline", "Private")
    base_private_total = base_private.get("TotalCount")

    c.step = "import users"
    c.reply(
        "add_single_user(alice)",
        sdk.add_single_user(alice, "Alice", "https://example.invalid/alice.png"),
    )
    r = sdk.batch_add_users([bob, carol, dave, erin, frank])
    body = c.reply("batch_add_users(bob..frank)", r)
    c.eq("batch_add_users FailAccounts", body.get("FailAccounts"), [], r)

    c.step = "create groups"
    r = sdk.create_group(GroupObj(ghost, "Public", "ghost's group"))
    c.reply("create_group(Public, Owner_Account not imported)", r, 10019)

    r = sdk.create_group(
        GroupObj(
            alice,
            "Public",
            "compat public",
            introdction="public intro",
            notification="public notice",
            mem_list=[GroupMemObj(bob, "Admin"), GroupMemObj(carol)],
        )
    )
    body = c.reply("create_group(Public, members bob as Admin + carol)", r)
    pub = body.get("GroupId") or "missing-public"
    created_type(c, "Public", body, r)
    c.ok("create_group(Public) GroupId starts with @TGS#", pub.startswith("@TGS#"), f"got {pub!r}{context(r)}")

    r = sdk.create_group(GroupObj(alice, "Private", "compat work", mem_list=[GroupMemObj(bob)]))
    body = c.reply("create_group(Private, member bob)", r)
    work = body.get("GroupId") or "missing-work"
    created_type(c, "Private", body, r)
    c.ok("create_group(Private) GroupId starts with @TGS#", work.startswith("@TGS#"), f"got {work!r}{context(r)}")

    r = sdk.create_group(
        GroupObj(alice, "ChatRoom", "compat meeting", mem_list=[GroupMemObj(bob), GroupMemObj(carol)])
    )
    body = c.reply("create_group(ChatRoom, members bob + carol)", r)
    meet = body.get("GroupId") or "missing-meeting"
    created_type(c, "ChatRoom", body, r)
    c.ok("create_group(ChatRoom) GroupId starts with @TGS#", meet.startswith("@TGS#"), f"got {meet!r}{context(r)}")

    r = sdk.create_group(GroupObj(alice, "AVChatRoom", "compat live"))
    body = c.reply("create_group(AVChatRoom, no members)", r)
    live = body.get("GroupId") or "missing-live"
    created_type(c, "AVChatRoom", body, r)
    c.ok("create_group(AVChatRoom) GroupId starts with @TGS#", live.startswith("@TGS#"), f"got {live!r}{context(r)}")

    r = sdk.create_group(GroupObj(alice, "AVChatRoom", "compat live 2", mem_list=[GroupMemObj(bob)]))
    c.reply("create_group(AVChatRoom with MemberList)", r, 10007)

    community_id = f"@TGS#_compat_{tag}"
    r = sdk.create_group(
        GroupObj(
            alice,
            "Community",
            "compat community",
            mem_list=[GroupMemObj(bob), GroupMemObj(carol)],
            group_id=community_id,
        )
    )
    body = c.reply("create_group(Community, custom GroupId, members bob + carol)", r)
    comm = body.get("GroupId") or "missing-community"
    created_type(c, "Community", body, r)
    c.eq("create_group(Community) keeps the custom GroupId", comm, community_id, r)

    r = sdk.create_group(GroupObj(alice, "Community", "compat bad id", group_id=f"compat_{tag}"))
    c.reply("create_group(Community, custom GroupId without @TGS#_)", r, 10015)

    mine = [pub, work, meet, live, comm]

    c.step = "list groups"
    body, ids = all_group_ids(c, sdk, "get_group()")
    if base_total is not None:
        c.eq("get_group() TotalCount after 5 creates", body.get("TotalCount"), base_total + 5, None)
    c.ok("get_group() lists the 5 new groups", set(mine) <= set(ids), f"missing {sorted(set(mine) - set(ids))}")
    c.eq("get_group() Next when everything fits", body.get("Next"), 0, None)

    body, ids_private = all_group_ids(c, sdk, "get_group(group_type=Private)", "Private")
    if base_private_total is not None:
        c.eq("get_group(Private) TotalCount", body.get("TotalCount"), base_private_total + 1, None)
    c.ok("get_group(Private) lists the Private group", work in ids_private, f"got {ids_private}")
    c.ok("get_group(Private) lists no other type", not (set(mine) - {work}) & set(ids_private), f"got {ids_private}")

    paged, nxt, pages = [], 0, 0
    while pages < 50:
        r = sdk.get_group(limit_nm=2, next_num=nxt)
        body = c.reply(f"get_group(limit 2, next {nxt})", r)
        page = [g.get("GroupId") for g in body.get("GroupIdList") or []]
        pages += 1
        if not c.ok(f"get_group(limit 2) page {pages} holds at most 2", len(page) <= 2, f"got {page}"):
            break
        paged += page
        nxt = body.get("Next")
        if not nxt:
            break
    c.eq("get_group paging by 2 returns every group once", sorted(paged), sorted(ids), None)

    c.step = "group details"
    r = sdk.get_group_detail(mine)
    body = c.reply("get_group_detail(5 groups, no filter)", r)
    infos = {g.get("GroupId"): g for g in body.get("GroupInfo") or []}
    c.eq("get_group_detail returns 5 items", sorted(infos), sorted(mine), r)
    for gid, typ, label in (
        (pub, "Public", "Public"),
        (work, "Private", "Private"),
        (meet, "ChatRoom", "ChatRoom"),
        (live, "AVChatRoom", "AVChatRoom"),
        (comm, "Community", "Community"),
    ):
        g = infos.get(gid, {})
        c.eq(f"get_group_detail {label} item ErrorCode", g.get("ErrorCode"), 0, r)
        c.eq(f"get_group_detail {label} Type (legacy spelling)", g.get("Type"), typ, r)
        c.eq(f"get_group_detail {label} Owner_Account", g.get("Owner_Account"), alice, r)
        c.eq(f"get_group_detail {label} Appid", g.get("Appid"), app_id, r)
    g = infos.get(pub, {})
    c.eq("get_group_detail Public Name", g.get("Name"), "compat public", r)
    c.eq("get_group_detail Public Introduction", g.get("Introduction"), "public intro", r)
    c.eq("get_group_detail Public Notification", g.get("Notification"), "public notice", r)
    c.eq("get_group_detail Public MemberNum", g.get("MemberNum"), 3, r)
    c.eq("get_group_detail Public MaxMemberNum (SDK default MaxMemberCount 500)", g.get("MaxMemberNum"), 500, r)
    c.eq("get_group_detail Public ApplyJoinOption default", g.get("ApplyJoinOption"), "NeedPermission", r)
    c.eq("get_group_detail Public ShutUpAllMember", g.get("ShutUpAllMember"), "Off", r)
    c.eq("get_group_detail Public MuteAllMember (new spelling)", g.get("MuteAllMember"), "Off", r)
    info_seq = g.get("InfoSeq")
    c.ok("get_group_detail Public InfoSeq is a number", isinstance(info_seq, int), f"got {info_seq!r}{context(r)}")
    c.eq(
        "get_group_detail Public MemberList roles",
        roles(g.get("MemberList")),
        {alice: "Owner", bob: "Admin", carol: "Member"},
        r,
    )
    g = infos.get(work, {})
    c.eq("get_group_detail Private MemberNum", g.get("MemberNum"), 2, r)
    c.eq("get_group_detail Private ApplyJoinOption default", g.get("ApplyJoinOption"), "DisableApply", r)
    c.eq("get_group_detail Private MemberList roles", roles(g.get("MemberList")), {alice: "Owner", bob: "Member"}, r)
    g = infos.get(meet, {})
    c.eq("get_group_detail ChatRoom MemberNum", g.get("MemberNum"), 3, r)
    c.eq("get_group_detail ChatRoom ApplyJoinOption default", g.get("ApplyJoinOption"), "FreeAccess", r)
    g = infos.get(live, {})
    c.eq("get_group_detail AVChatRoom ApplyJoinOption default", g.get("ApplyJoinOption"), "FreeAccess", r)
    c.ok("get_group_detail AVChatRoom has no MemberList", "MemberList" not in g, f"got {g.get('MemberList')!r}{context(r)}")
    g = infos.get(comm, {})
    c.eq("get_group_detail Community MemberNum", g.get("MemberNum"), 3, r)
    c.eq("get_group_detail Community ApplyJoinOption default", g.get("ApplyJoinOption"), "FreeAccess", r)

    c.step = "members"
    r = sdk.add_group_member(pub, [GroupMemObj(dave), GroupMemObj(erin)])
    body = c.reply("add_group_member(Public, dave + erin)", r)
    c.eq("add_group_member Result per member", {m.get("Member_Account"): m.get("Result") for m in body.get("MemberList") or []}, {dave: 1, erin: 1}, r)
    r = sdk.add_group_member(pub, [GroupMemObj(dave)])
    body = c.reply("add_group_member(Public, dave again)", r)
    c.eq("add_group_member already a member Result", [m.get("Result") for m in body.get("MemberList") or []], [2], r)
    r = sdk.delete_group_mem(pub, [erin])
    c.reply("delete_group_mem(Public, erin)", r)

    r = sdk.get_group_mem_info_detail(pub)
    body = c.reply("get_group_mem_info_detail(Public)", r)
    c.eq("get_group_mem_info_detail MemberNum after +2 -1", body.get("MemberNum"), 4, r)
    c.eq("get_group_mem_info_detail accounts", accounts(body.get("MemberList")), sorted([alice, bob, carol, dave]), r)
    c.eq(
        "get_group_mem_info_detail roles",
        roles(body.get("MemberList")),
        {alice: "Owner", bob: "Admin", carol: "Member", dave: "Member"},
        r,
    )
    c.eq(
        "get_group_mem_info_detail ShutUpUntil and MuteUntil are 0 (not muted)",
        {(m.get("ShutUpUntil"), m.get("MuteUntil")) for m in body.get("MemberList") or []},
        {(0, 0)},
        r,
    )
    r = sdk.get_group_mem_info_detail(pub, memRoleFilter=["Admin"])
    body = c.reply("get_group_mem_info_detail(Public, MemberRoleFilter Admin)", r)
    c.eq("get_group_mem_info_detail MemberRoleFilter Admin accounts", accounts(body.get("MemberList")), [bob], r)
    r = sdk.get_group_mem_info_detail(pub, memInfoFilter=["Role"])
    body = c.reply("get_group_mem_info_detail(Public, MemberInfoFilter Role)", r)
    keys = sorted({k for m in body.get("MemberList") or [] for k in m})
    c.eq("get_group_mem_info_detail MemberInfoFilter keeps only Role", keys, ["Member_Account", "Role"], r)
    r1 = sdk.get_group_mem_info_detail(pub, limit_count=2, offset=0)
    b1 = c.reply("get_group_mem_info_detail(Public, limit 2, offset 0)", r1)
    r2 = sdk.get_group_mem_info_detail(pub, limit_count=2, offset=2)
    b2 = c.reply("get_group_mem_info_detail(Public, limit 2, offset 2)", r2)
    p1, p2 = accounts(b1.get("MemberList")), accounts(b2.get("MemberList"))
    c.ok("get_group_mem_info_detail pages of 2 hold 2 each", len(p1) == 2 and len(p2) == 2, f"got {p1} and {p2}")
    c.eq("get_group_mem_info_detail pages cover every member once", sorted(p1 + p2), sorted([alice, bob, carol, dave]), None)

    r = sdk.add_group_member(live, [GroupMemObj(bob)])
    c.reply("add_group_member(AVChatRoom, bob)", r, 10007)
    r = sdk.get_group_mem_info_detail(live)
    c.reply("get_group_mem_info_detail(AVChatRoom)", r, 10007)

    r = sdk.add_group_member(work, [GroupMemObj(carol)])
    body = c.reply("add_group_member(Private, carol)", r)
    c.eq("add_group_member(Private) Result", [m.get("Result") for m in body.get("MemberList") or []], [1], r)

    r = sdk.delete_group_mem(meet, [bob, carol])
    c.reply("delete_group_mem(ChatRoom, bob + carol)", r)
    r = sdk.get_group_detail([meet], baseInfoFilter=["MemberNum"])
    body = c.reply("get_group_detail(ChatRoom, GroupBaseInfoFilter MemberNum)", r)
    c.eq("get_group_detail ChatRoom MemberNum after removing 2", item(body).get("MemberNum"), 1, r)

    r = sdk.get_group_mem_info_detail(comm, limit_count=2)
    b1 = c.reply("get_group_mem_info_detail(Community, limit 2)", r)
    c.eq("get_group_mem_info_detail Community MemberNum", b1.get("MemberNum"), 3, r)
    page1 = accounts(b1.get("MemberList"))
    c.eq("get_group_mem_info_detail Community first page size", len(page1), 2, r)
    nxt = b1.get("Next") or ""
    c.ok("get_group_mem_info_detail Community Next after a full page", bool(nxt), f"got {b1.get('Next')!r}{context(r)}")
    if nxt:
        r = sdk.get_group_mem_info_detail(comm, limit_count=2, next=nxt)
        b2 = c.reply("get_group_mem_info_detail(Community, limit 2, Next)", r)
        c.eq(
            "get_group_mem_info_detail Community pages cover every member once",
            sorted(page1 + accounts(b2.get("MemberList"))),
            sorted([alice, bob, carol]),
            r,
        )

    c.step = "group options"
    r = sdk.update_group_baseinfo(
        pub, group_name="compat public v2", max_member_num=300, appJoinOption="FreeAccess", shutUpFlag="On"
    )
    c.reply("update_group_baseinfo(Public: Name, MaxMemberNum 300, FreeAccess, ShutUpAllMember On)", r)
    r = sdk.get_group_detail(
        [pub],
        baseInfoFilter=["Type", "Name", "ApplyJoinOption", "ShutUpAllMember", "MaxMemberNum", "MemberNum", "InfoSeq"],
    )
    body = c.reply("get_group_detail(Public, GroupBaseInfoFilter)", r)
    g = item(body)
    c.eq("get_group_detail filtered item ErrorCode", g.get("ErrorCode"), 0, r)
    c.eq("get_group_detail Name after update", g.get("Name"), "compat public v2", r)
    c.eq("get_group_detail ApplyJoinOption after update", g.get("ApplyJoinOption"), "FreeAccess", r)
    c.eq("get_group_detail ShutUpAllMember after update", g.get("ShutUpAllMember"), "On", r)
    c.eq("get_group_detail MuteAllMember after update (both spellings emitted)", g.get("MuteAllMember"), "On", r)
    c.ok(
        "get_group_detail InfoSeq bumped by the profile change",
        isinstance(info_seq, int) and isinstance(g.get("InfoSeq"), int) and g.get("InfoSeq") > info_seq,
        f"before {info_seq!r}, after {g.get('InfoSeq')!r}{context(r)}",
    )
    c.eq("get_group_detail MaxMemberNum after update", g.get("MaxMemberNum"), 300, r)
    c.eq("get_group_detail MemberNum", g.get("MemberNum"), 4, r)
    c.eq("get_group_detail Type", g.get("Type"), "Public", r)
    c.ok("get_group_detail GroupBaseInfoFilter leaves out Introduction", "Introduction" not in g, f"got {sorted(g)}{context(r)}")
    r = sdk.get_group_detail([pub], memInfoFilter=["Role"])
    body = c.reply("get_group_detail(Public, MemberInfoFilter Role)", r)
    members = item(body).get("MemberList")
    c.eq("get_group_detail MemberInfoFilter roles", roles(members), {alice: "Owner", bob: "Admin", carol: "Member", dave: "Member"}, r)
    c.eq(
        "get_group_detail MemberInfoFilter keeps only Role",
        sorted({k for m in members or [] for k in m}),
        ["Member_Account", "Role"],
        r,
    )
    r = sdk.update_group_baseinfo(pub, appJoinOption="Sometimes")
    c.reply("update_group_baseinfo(Public, ApplyJoinOption Sometimes)", r, 10004)

    c.step = "roles and owner"
    r = sdk.update_group_mem_info(pub, carol, role_type="Admin")
    c.reply("update_group_mem_info(Public, carol, Role Admin)", r)
    r = sdk.update_group_mem_info(pub, bob, role_type="Member")
    c.reply("update_group_mem_info(Public, bob, Role Member)", r)
    r = sdk.get_mem_role_in_group(pub, [alice, bob, carol, dave, frank])
    body = c.reply("get_mem_role_in_group(Public, 5 users)", r)
    c.eq(
        "get_mem_role_in_group roles after grant/revoke",
        roles(body.get("UserIdList")),
        {alice: "Owner", bob: "Member", carol: "Admin", dave: "Member", frank: "NotMember"},
        r,
    )
    r = sdk.update_group_mem_info(work, bob, role_type="Admin")
    c.reply("update_group_mem_info(Private, bob, Role Admin)", r, 10007)

    r = sdk.change_group_owner(pub, dave)
    c.reply("change_group_owner(Public, dave)", r)
    r = sdk.get_mem_role_in_group(pub, [alice, dave])
    body = c.reply("get_mem_role_in_group(Public, alice + dave)", r)
    c.eq("get_mem_role_in_group after transfer", roles(body.get("UserIdList")), {alice: "Member", dave: "Owner"}, r)
    r = sdk.get_group_detail([pub], baseInfoFilter=["Owner_Account"])
    body = c.reply("get_group_detail(Public, Owner_Account)", r)
    c.eq("get_group_detail Owner_Account after transfer", item(body).get("Owner_Account"), dave, r)
    r = sdk.change_group_owner(work, bob)
    c.reply("change_group_owner(Private, bob)", r)
    r = sdk.get_mem_role_in_group(work, [alice, bob, carol])
    body = c.reply("get_mem_role_in_group(Private)", r)
    c.eq("get_mem_role_in_group(Private) after transfer", roles(body.get("UserIdList")), {alice: "Member", bob: "Owner", carol: "Member"}, r)
    r = sdk.change_group_owner(live, bob)
    c.reply("change_group_owner(AVChatRoom, bob)", r, 10007)

    c.step = "joined groups"
    r = sdk.get_joined_groups(alice)
    body = c.reply("get_joined_groups(alice)", r)
    c.eq("get_joined_groups(alice) TotalCount (AVChatRoom not listed)", body.get("TotalCount"), 4, r)
    c.eq(
        "get_joined_groups(alice) GroupIds",
        sorted(g.get("GroupId") for g in body.get("GroupIdList") or []),
        sorted([pub, work, meet, comm]),
        r,
    )
    r = sdk.get_joined_groups(
        alice, group_type="Public", baseInfoFilter=["Type", "Name", "MemberNum"], selfInfoFilter=["Role"]
    )
    body = c.reply("get_joined_groups(alice, Public, filters)", r)
    c.eq("get_joined_groups(alice, Public) TotalCount", body.get("TotalCount"), 1, r)
    lst = body.get("GroupIdList") or [{}]
    g = lst[0]
    c.eq("get_joined_groups(alice, Public) GroupId", g.get("GroupId"), pub, r)
    c.eq("get_joined_groups(alice, Public) Type", g.get("Type"), "Public", r)
    c.eq("get_joined_groups(alice, Public) Name", g.get("Name"), "compat public v2", r)
    c.eq("get_joined_groups(alice, Public) MemberNum", g.get("MemberNum"), 4, r)
    c.eq("get_joined_groups(alice, Public) SelfInfo Role", (g.get("SelfInfo") or {}).get("Role"), "Member", r)
    r = sdk.get_joined_groups(carol, group_type="Private", baseInfoFilter=["Type"], selfInfoFilter=["Role"])
    body = c.reply("get_joined_groups(carol, Private, filters)", r)
    c.eq("get_joined_groups(carol, Private) TotalCount", body.get("TotalCount"), 1, r)
    g = (body.get("GroupIdList") or [{}])[0]
    c.eq("get_joined_groups(carol, Private) GroupId", g.get("GroupId"), work, r)
    c.eq("get_joined_groups(carol, Private) Type", g.get("Type"), "Private", r)
    c.eq("get_joined_groups(carol, Private) SelfInfo Role", (g.get("SelfInfo") or {}).get("Role"), "Member", r)
    r = sdk.get_joined_groups(bob, baseInfoFilter=["Type"], selfInfoFilter=["Role"])
    body = c.reply("get_joined_groups(bob, filters)", r)
    c.eq("get_joined_groups(bob) TotalCount", body.get("TotalCount"), 3, r)
    c.eq(
        "get_joined_groups(bob) types and roles",
        {g.get("GroupId"): (g.get("Type"), (g.get("SelfInfo") or {}).get("Role")) for g in body.get("GroupIdList") or []},
        {pub: ("Public", "Member"), work: ("Private", "Owner"), comm: ("Community", "Member")},
        r,
    )
    r1 = sdk.get_joined_groups(alice, limit_count=2)
    b1 = c.reply("get_joined_groups(alice, limit 2)", r1)
    r2 = sdk.get_joined_groups(alice, limit_count=2, offset=2)
    b2 = c.reply("get_joined_groups(alice, limit 2, offset 2)", r2)
    c.eq("get_joined_groups TotalCount ignores Limit", b1.get("TotalCount"), 4, r1)
    c.eq("get_joined_groups TotalCount ignores Offset", b2.get("TotalCount"), 4, r2)
    p1 = [g.get("GroupId") for g in b1.get("GroupIdList") or []]
    p2 = [g.get("GroupId") for g in b2.get("GroupIdList") or []]
    c.eq("get_joined_groups pages cover every group once", sorted(p1 + p2), sorted([pub, work, meet, comm]), None)
    r = sdk.get_joined_groups(frank)
    body = c.reply("get_joined_groups(frank)", r)
    c.eq("get_joined_groups(frank) TotalCount", body.get("TotalCount"), 0, r)

    c.step = "identity checks"
    r = TCIMClient(app_id, args.key, alice, tencent_url=base).get_group()
    c.reply("TCIMClient(identifier=alice, not an app admin).get_group", r, 60010)
    r = TCIMClient(app_id, args.key + "x", admin, tencent_url=base).get_group()
    c.reply("TCIMClient(wrong key).get_group", r, 70009)

    c.step = "usersig interop"
    code, sig, err = groupdeck_usersig(args, admin)
    c.ok("groupdeck usersig --user ADMIN exits 0", code == 0 and sig != "", f"exit {code}, stderr {err!r}")
    try:
        ticket = decode_usersig(sig)
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        ticket = {}
        c.ok("groupdeck ticket decodes (base64url', zlib, JSON)", False, f"{e!r} for {sig!r}")
    else:
        c.ok("groupdeck ticket decodes (base64url', zlib, JSON)", True)
    c.eq("groupdeck ticket TLS.ver", ticket.get("TLS.ver"), "2.0", None)
    c.eq("groupdeck ticket TLS.identifier", ticket.get("TLS.identifier"), admin, None)
    c.eq("groupdeck ticket TLS.sdkappid", ticket.get("TLS.sdkappid"), app_id, None)
    if ticket:
        # The reference library has no verifier; its own HMAC routine over the
        # ticket's fields must reproduce TLS.sig.
        ref = TLSSigAPIv2(app_id, args.key)._TLSSigAPIv2__hmacsha256(
            ticket.get("TLS.identifier"), ticket.get("TLS.time"), ticket.get("TLS.expire")
        )
        c.eq("groupdeck ticket TLS.sig matches TLSSigAPIv2's HMAC", ticket.get("TLS.sig"), ref.decode(), None)
    r = raw_post(base, "get_appid_group_list", app_id, admin, sig, {})
    body = c.reply("raw get_appid_group_list with the groupdeck-minted admin UserSig", r)
    c.eq("raw get_appid_group_list TotalCount", body.get("TotalCount"), (base_total or 0) + 5, r)
    code, alice_sig, err = groupdeck_usersig(args, alice)
    c.ok("groupdeck usersig --user alice exits 0", code == 0 and alice_sig != "", f"exit {code}, stderr {err!r}")
    r = raw_post(base, "get_appid_group_list", app_id, alice, alice_sig, {})
    c.reply("raw get_appid_group_list as alice (valid ticket, not an admin)", r, 60010)
    ref_sig = TLSSigAPIv2(app_id, args.key).gen_sig(admin, 86400)
    r = raw_post(base, "get_group_info", app_id, admin, ref_sig, {"GroupIdList": [pub]})
    body = c.reply("raw get_group_info with a TLSSigAPIv2-minted admin UserSig", r)
    c.eq("raw get_group_info item ErrorCode", item(body).get("ErrorCode"), 0, r)
    r = raw_post(base, "get_appid_group_list", app_id, admin, "", {})
    c.reply("raw get_appid_group_list with an empty UserSig", r, 70002)

    c.step = "destroy groups"
    for gid, label in ((pub, "Public"), (work, "Private"), (meet, "ChatRoom"), (live, "AVChatRoom"), (comm, "Community")):
        c.reply(f"delete_group({label})", sdk.delete_group(gid))
    r = sdk.get_group_detail(mine)
    body = c.reply("get_group_detail(5 destroyed groups)", r)
    codes = {g.get("GroupId"): g.get("ErrorCode") for g in body.get("GroupInfo") or []}
    c.eq("get_group_detail destroyed groups per-item ErrorCode", codes, {gid: 10010 for gid in mine}, r)
    r = sdk.delete_group(pub)
    c.reply("delete_group(Public, already destroyed)", r, 10010)
    r = sdk.get_group()
    body = c.reply("get_group() after destroying", r)
    if base_total is not None:
        c.eq("get_group() TotalCount back to baseline", body.get("TotalCount"), base_total, r)
    left = set(mine) & {g.get("GroupId") for g in body.get("GroupIdList") or []}
    c.ok("get_group() no longer lists the destroyed groups", not left, f"still listed: {sorted(left)}")
    r = sdk.get_joined_groups(alice)
    body = c.reply("get_joined_groups(alice) after destroying", r)
    c.eq("get_joined_groups(alice) TotalCount after destroying", body.get("TotalCount"), 0, r)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base_url", help="the /v4 root, e.g. http://127.0.0.1:9090/v4")
    p.add_argument("app_id", type=int)
    p.add_argument("key", help="the server's secret key")
    p.add_argument("admin", help="an app admin identifier")
    p.add_argument("--groupdeck", required=True, help="path of the groupdeck binary")
    p.add_argument("--key-file", required=True, help="the server's key file")
    p.add_argument("--deadline", type=int, default=100, help="seconds before the run is abandoned")
    args = p.parse_args()

    c = Checks()

    def on_alarm(_sig, _frame):
        raise Deadline()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.deadline)
    try:
        run(c, args)
    except Deadline:
        c.ok(f"finished within {args.deadline} s", False, f"still in step {c.step!r}")
    except Exception:  # noqa: BLE001 - any crash is a failed check
        c.ok(f"step {c.step!r} ran without raising", False, traceback.format_exc().replace("\n", " | "))
    finally:
        signal.alarm(0)
    print(f"{c.passed} passed, {c.failed} failed", flush=True)
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
