"""Demo data the reference billing server seeds at start: accounts, cards and notices (zh and en).

The constants are public so the README, the demo and tests can name a card or account without
guessing. Account numbers are built with the real check digit, so the kiosk's offline check passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from billing_server.contract import make_account_number


@dataclass(frozen=True)
class DemoAccount:
    account_no: str
    holder_masked: str
    address_masked: str
    arrears_minor: int
    balance_minor: int
    prepaid: bool = False  # has a prepaid meter: buys electricity onto its card (docs/prepaid.md)


@dataclass(frozen=True)
class DemoNotice:
    id: str
    kind: str  # "outage" | "tip" | "tariff"
    title_zh: str
    body_zh: str
    title_en: str
    body_en: str
    valid_until: str | None = None


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(make_account_number("310100001"), "张*明", "幸福小区3栋2单元**室", 12_850, 0),
    DemoAccount(make_account_number("310100002"), "李*华", "幸福小区5栋1单元**室", 0, 0),
    DemoAccount(make_account_number("310100003"), "王*", "东风村五组**号", 4_630, 0),
    DemoAccount(make_account_number("310100004"), "赵*芳", "东风村二组**号", 0, 5_000),
    DemoAccount(make_account_number("310100005"), "陈*伟", "光明路88弄**号", 289_999, 0),
    DemoAccount(make_account_number("310100006"), "刘*英", "光明路12弄**号", 50, 0),
    DemoAccount(make_account_number("310100007"), "杨*", "供电营业厅西侧**号", 0, 23_450),
    DemoAccount(make_account_number("310100008"), "黄*强", "河滨新村7栋**室", 100_000, 0),
    DemoAccount(make_account_number("310100009"), "周*兰", "河滨新村9栋**室", 7_720, 0),
    DemoAccount(make_account_number("310100010"), "吴*军", "东风村六组**号", 0, 0, prepaid=True),
    DemoAccount(make_account_number("310100011"), "郑*梅", "幸福小区8栋**室", 0, 0, prepaid=True),
)

# Card uid (10 upper-case hex chars, as an EM4100 reader reports it) → account number.
# 310100006..9 have no card: they are reached through the keypad.
DEMO_CARDS: Mapping[str, str] = MappingProxyType(
    {
        "0A1B2C3D4E": DEMO_ACCOUNTS[0].account_no,
        "1F2E3D4C5B": DEMO_ACCOUNTS[1].account_no,
        "2C3D4E5F60": DEMO_ACCOUNTS[2].account_no,
        "3D4E5F6071": DEMO_ACCOUNTS[3].account_no,
        "4E5F607182": DEMO_ACCOUNTS[4].account_no,
        "5F60718293": DEMO_ACCOUNTS[6].account_no,
    }
)

# Prepaid cards: MIFARE Classic UIDs (4 or 7 bytes, as the PN532 reports them) → account. The
# purchase is written to the card (docs/prepaid.md); the card also identifies the account.
DEMO_PREPAID_CARDS: Mapping[str, str] = MappingProxyType(
    {
        "1A2B3C4D": DEMO_ACCOUNTS[9].account_no,
        "04A1B2C3D4E5F6": DEMO_ACCOUNTS[10].account_no,
    }
)

# The code printed on each demo bill (a QR code on the paper bill): "DF", the account number, the
# billing period (YYYYMM). The kiosk's default ``[scanner] bill_pattern`` (kiosk/flow/scan.py)
# reads the account number from it; ``kiosk billing-server demo-bills`` lists them.
DEMO_BILL_PERIOD: str = "202611"


def bill_code(account_no: str, period: str = DEMO_BILL_PERIOD) -> str:
    return f"DF{account_no}{period}"


DEMO_BILLS: Mapping[str, str] = MappingProxyType(
    {a.account_no: bill_code(a.account_no) for a in DEMO_ACCOUNTS})

# Well-formed but never seeded: an account number with a valid check digit and a card uid that
# no account owns. For "unknown account/card" demos and tests.
UNSEEDED_ACCOUNT: str = make_account_number("999900001")
UNSEEDED_CARD: str = "FFEEDDCCBB"

DEMO_NOTICES: tuple[DemoNotice, ...] = (
    DemoNotice(
        "N-OUTAGE-1",
        "outage",
        "计划停电通知",
        "因线路检修，东风村一至五组将于本周六 08:00–12:00 停电，请提前做好准备。",
        "Planned outage",
        "Dongfeng village groups 1-5: no power on Saturday 08:00-12:00 for line maintenance.",
        "2099-12-31T16:00:00Z",
    ),
    DemoNotice(
        "N-TIP-1",
        "tip",
        "安全用电提示",
        "请勿私拉乱接电线；发现电线破损、冒烟，请远离并拨打95598。",
        "Electrical safety",
        "Do not run your own wiring. If a cable is damaged or smoking, keep away and call 95598.",
    ),
    DemoNotice(
        "N-TIP-2",
        "tip",
        "本机不找零",
        "本机不找零，多付金额将存为预付电费，可在下次账单中抵扣。",
        "No change given",
        "This terminal gives no change: any amount over your arrears is kept as prepaid credit.",
    ),
    DemoNotice(
        "N-TARIFF-1",
        "tariff",
        "阶梯电价说明",
        "居民生活用电实行阶梯电价：每月0–230度为第一档，231–400度为第二档，400度以上为第三档。",
        "Tiered tariff",
        "Household power is billed in tiers: 0-230 kWh a month, 231-400 kWh, and above 400 kWh.",
    ),
)

