"""The prompt catalogue: every prompt id, what it says in each language, and the phrases that
put an amount between fixed clips.

A *clip* is one audio file (``assets/sounds/<lang>/manifest.json`` maps its id to its text and
file); a *prompt* is what the resident hears at once: one clip, or a phrase of clips and spoken
amounts (``phrase``). ``screen.<name>`` is also the help sentence of that screen (what to do
here), so what is heard and what is read are the same words. Wording follows the plain terms of
the resident screens (小票, 本次缴费, 放钱, 钞票). The buttons are named by where they are (the
primary action is bottom-right on every screen: docs/architecture.md, "Resident screens").
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.voice.numbers import NUMBER_CLIPS, amount_clips

LANGS = ("zh_CN", "en")

#: clip id → (Chinese, English). The number clips are in NUMBER_TEXTS.
CLIPS: dict[str, tuple[str, str]] = {
    # what to do on each resident screen (also the help sentence)
    "screen.attract": ("您好！交电费，请把卡放在读卡器上，或者点下面的按钮输入户号。",
                       "Hello! To pay for electricity, put your card on the reader, or touch "
                       "the button below to enter your account number."),
    "screen.identify": ("请用数字键输入户号，再点右下角的按钮。",
                        "Type your account number on the keys, then touch the button at the "
                        "bottom right."),
    "screen.account": ("请看一下户名和地址。没错就点右下角的按钮。",
                       "Please check the name and address. If they are right, touch the button "
                       "at the bottom right."),
    "screen.amount": ("请选择本次要缴多少钱。", "Please choose how much to pay now."),
    "screen.insert": ("请放钱，钞票一次放一张。本机不找零。",
                      "Please put in your money, one note at a time. No change is given."),
    "screen.processing": ("正在记录您的缴费，请稍等。", "Recording your payment. Please wait."),
    "screen.done": ("缴费已经完成。请拿好小票，然后点右下角的按钮。",
                    "Your payment is done. Take your receipt, then touch the button at the "
                    "bottom right."),
    "screen.rating": ("请为这次服务打分，也可以跳过。",
                      "Please rate this visit, or skip it."),
    "screen.ended": ("本次缴费已取消，机器没有收您的钱。",
                     "The payment is cancelled. The machine has not taken your money."),
    "screen.out_of_service": ("本机暂停服务，请不要放钱。需要帮助请拨打屏幕下方的服务电话。",
                              "This machine is out of service. Please do not put in money. "
                              "For help, call the service phone at the bottom of the screen."),
    # events
    "say.card_read": ("已读到您的卡，正在查询，请稍等。",
                      "Your card is read. Looking up your account, please wait."),
    "say.nothing_owed": ("您现在没有欠费，也可以预存电费。",
                         "You owe nothing now. You may pay in advance."),
    "say.note_returned": ("钞票退回来了，请取走。", "Your note is given back. Please take it."),
    "say.problem": ("出了点问题，请看屏幕上的说明，或拨打服务电话。",
                    "Something is not right. Please read the screen, or call the service "
                    "phone."),
    "say.fault": ("机器出了故障，请不要再放钱。", "The machine has a fault. Please put in no "
                                            "more money."),
    "say.take_receipt": ("请拿好小票。", "Please take your receipt."),
    "say.receipt_on_screen": ("小票打不出来。请用手机拍下屏幕上的二维码。",
                              "The receipt cannot be printed. Please photograph the QR code on "
                              "the screen."),
    "say.idle": ("您还在吗？请摸一下屏幕。", "Are you still there? Please touch the screen."),
    "say.volume": ("这是现在的音量。", "This is the volume now."),
    # the fixed parts of phrases with an amount
    "part.owed": ("您欠费", "You owe"),
    "part.checking": ("正在识别您的", "Checking your"),
    "part.note": ("钞票", "note"),
    "part.received": ("已收", "Received"),
    "part.still_owed": ("还差", ""),
    "part.still_to_pay": ("", "still to pay"),
    "part.enough": ("钱已经够了，请点右下角的按钮完成缴费。",
                    "That is enough. Touch the button at the bottom right to finish."),
    "part.insert_left": ("还需要放", "Please put in"),
    "part.paid": ("缴费成功，本次缴费", "Payment done. You paid"),
}

#: number clip id → text, per language (what espeak-ng is given to say)
NUMBER_TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {**{f"num.{d}": t for d, t in enumerate("零一二三四五六七八九")},
              "num.ten": "十", "num.hundred": "百", "num.thousand": "千", "num.wan": "万",
              "unit.yuan": "元", "unit.jiao": "角", "unit.fen": "分"},
    "en": {**{f"num.{n}": t for n, t in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split())},
           **{f"num.{n}": t for n, t in zip(range(20, 100, 10), "twenty thirty forty fifty "
                                            "sixty seventy eighty ninety".split())},
           "num.hundred": "hundred", "num.thousand": "thousand",
           "unit.yuan": "yuan", "unit.fen": "fen"},
}
#: a phrase: fixed clips and amount slots ("{name}"), in each language's word order
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "say.owed": {"zh_CN": ("part.owed", "{amount}"), "en": ("part.owed", "{amount}")},
    "say.checking_note": {"zh_CN": ("part.checking", "{amount}", "part.note"),
                          "en": ("part.checking", "{amount}", "part.note")},
    # "已收五十元，还差七十八元五角" / "received fifty yuan, seventy-eight yuan fifty still to pay"
    "say.credited": {"zh_CN": ("part.received", "{paid}", "part.still_owed", "{left}"),
                     "en": ("part.received", "{paid}", "{left}", "part.still_to_pay")},
    "say.enough": {"zh_CN": ("part.received", "{paid}", "part.enough"),
                   "en": ("part.received", "{paid}", "part.enough")},
    "say.left": {"zh_CN": ("part.insert_left", "{amount}"),
                 "en": ("part.insert_left", "{amount}")},
    "say.paid": {"zh_CN": ("part.paid", "{amount}"), "en": ("part.paid", "{amount}")},
}


@dataclass(frozen=True)
class Prompt:
    """One thing said: its prompt id (what tests and the log name) and the clips, in order."""

    id: str
    clips: tuple[str, ...]


def text_of(clip: str, lang: str) -> str:
    if clip in CLIPS:
        return CLIPS[clip][LANGS.index(lang)]
    return NUMBER_TEXTS[lang][clip]


def prompt(prompt_id: str, lang: str, **amounts: int) -> Prompt:
    """``prompt("say.credited", "zh_CN", paid=5000, left=7850)``: the clips of a phrase with its
    amounts spoken; a plain clip id is a prompt of one clip. Parts empty in a language (English
    says "still to pay" after the amount, Chinese 还差 before it) are left out."""
    template = PHRASES.get(prompt_id, {}).get(lang)
    if template is None:
        if prompt_id not in CLIPS:
            raise KeyError(f"no prompt {prompt_id!r}")
        return Prompt(prompt_id, (prompt_id,))
    clips: list[str] = []
    for part in template:
        if part.startswith("{"):
            clips += amount_clips(amounts[part[1:-1]], lang)
        elif text_of(part, lang):
            clips.append(part)
    return Prompt(prompt_id, tuple(clips))


def all_clips(lang: str) -> dict[str, str]:
    """Every clip id a prompt can use in ``lang``, with its text (what the manifest must hold)."""
    out = {cid: text_of(cid, lang) for cid in CLIPS if text_of(cid, lang)}
    out.update({cid: NUMBER_TEXTS[lang][cid] for cid in NUMBER_CLIPS[lang]})
    return out
