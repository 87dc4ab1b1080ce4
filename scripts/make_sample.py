"""Generate the bundled Persian news sample: ``samples/persian-news-sample.jsonl``.

The sample is a small, fully synthetic stream of Telegram-style Persian news posts written for this project
(fictional events, fictional wording; nothing is copied from any dataset). It covers two days in Tehran time,
2026-03-02 and 2026-03-03, and mixes:

* ten news stories: seven "emerging" bursts (many posts from several channels within a few hours), one of
  which continues on the second day, and three slow stories (a few posts from one channel over a day);
* one-off noise posts (adverts, greetings, poems, weather chit-chat, channel service lines);
* a dozen malformed lines, one per fault, interleaved in time order.

Each valid line is an input article: ``id``, ``source``, ``published_at`` (ISO-8601, +03:30), ``url``,
``text`` and the extra field ``sample_story`` (the ground-truth story key; noise posts get ``noise-<n>``,
malformed lines ``malformed``). Lines are sorted by ``published_at``, ties broken by ``id``.

The output is deterministic: a fixed seed drives ``random.Random`` and nothing reads the clock, so running the
script twice gives byte-identical files. ``samples/README.md`` describes the result.

Usage::

    python scripts/make_sample.py [--output samples/persian-news-sample.jsonl] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

SEED = 1404_12_11  # 11 Esfand 1404 = 2026-03-02
TEHRAN = timezone(timedelta(hours=3, minutes=30))
DAY1 = datetime(2026, 3, 2, tzinfo=TEHRAN)
DAY2 = DAY1 + timedelta(days=1)
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "samples" / "persian-news-sample.jsonl"

ZWNJ = "\u200c"
# Templates write the zero-width non-joiner as "^" so that it stays visible in this file.
ZWNJ_MARK = "^"
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_ARABIC_LETTERS = str.maketrans({"ی": "ي", "ک": "ك"})
_THOUSANDS = re.compile(r"(?<=\d),(?=\d)")


def at(day: datetime, hhmm: str) -> datetime:
    """A time of day ("HH:MM") on ``day`` (Tehran time)."""
    hours, minutes = hhmm.split(":")
    return day + timedelta(hours=int(hours), minutes=int(minutes))


# --------------------------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class SourceStyle:
    """How one channel writes: its signature, lead emoji, digits and spelling habits."""

    name: str
    first_id: int
    signature: str
    signature_p: float
    prefixes: tuple[str, ...]
    prefix_p: float
    hashtag_p: float
    persian_digits_p: float
    arabic_letters_p: float
    zwnj_drop_p: float


SOURCES: dict[str, SourceStyle] = {
    style.name: style
    for style in (
        SourceStyle(
            name="khabar_fori",
            first_id=73104,
            signature="\n🆔 @khabar_fori",
            signature_p=0.85,
            prefixes=("🔴 فوری", "🔴", "🔴 #فوری", "فــــوری 🔴"),
            prefix_p=0.7,
            hashtag_p=0.4,
            persian_digits_p=1.0,
            arabic_letters_p=0.02,
            zwnj_drop_p=0.08,
        ),
        SourceStyle(
            name="tehran_news",
            first_id=41820,
            signature="\n@TehranNews",
            signature_p=0.9,
            prefixes=("⭕️", "⭕️ فوری"),
            prefix_p=0.5,
            hashtag_p=0.2,
            persian_digits_p=0.9,
            arabic_letters_p=0.0,
            zwnj_drop_p=0.1,
        ),
        SourceStyle(
            name="iran_akhbar",
            first_id=95410,
            signature="\n📡 @iran_akhbar",
            signature_p=0.6,
            prefixes=("🔹", "🔹🔹"),
            prefix_p=0.5,
            hashtag_p=0.3,
            persian_digits_p=0.4,
            arabic_letters_p=0.25,
            zwnj_drop_p=0.15,
        ),
        SourceStyle(
            name="sahar_daily",
            first_id=12051,
            signature="\n🌙 سحر | @sahar_daily",
            signature_p=0.7,
            prefixes=("🔸",),
            prefix_p=0.3,
            hashtag_p=0.5,
            persian_digits_p=1.0,
            arabic_letters_p=0.0,
            zwnj_drop_p=0.3,
        ),
        SourceStyle(
            name="rooz_news",
            first_id=28770,
            signature="\n➖➖➖➖\n🆔 @rooz_news",
            signature_p=0.8,
            prefixes=("📌",),
            prefix_p=0.3,
            hashtag_p=0.3,
            persian_digits_p=0.7,
            arabic_letters_p=0.03,
            zwnj_drop_p=0.1,
        ),
        SourceStyle(
            name="payam_agency",
            first_id=56302,
            signature="\nخبرگزاری پیام\n@payam_agency",
            signature_p=0.9,
            prefixes=("🔻",),
            prefix_p=0.15,
            hashtag_p=0.1,
            persian_digits_p=1.0,
            arabic_letters_p=0.0,
            zwnj_drop_p=0.05,
        ),
    )
}
ALL_SOURCES = tuple(SOURCES)

# --------------------------------------------------------------------------------------------- stories

Table = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Segment:
    """A run of posts of one story: ``count`` posts in ``span_min`` minutes from ``start``.

    A burst segment puts its first post at ``start`` and crowds the rest towards the beginning; a trailing
    segment spreads its posts evenly. Lead sentences are dealt from a shuffled deck so all of them get used.
    """

    start: datetime
    span_min: int
    count: int
    leads: tuple[str, ...]
    details: tuple[str, ...] = ()
    burst: bool = True
    sources: tuple[str, ...] = ()  # empty: the story's sources


@dataclass(frozen=True)
class Story:
    key: str
    title: str
    sources: tuple[str, ...]
    hashtags: tuple[str, ...]
    segments: tuple[Segment, ...]
    emerging: bool
    # Numbers that change as the story unfolds: (minutes since the story's first post, value) points,
    # linearly interpolated. Each also exists as "<name>_k" (value // 1000).
    tables: dict[str, Table] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)
    # Round some numbers the way reporters do ("about 400 cars"): slot name -> step.
    rounding: dict[str, int] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        return self.segments[0].start


def interpolate(table: Table, minute: float) -> int:
    if minute <= table[0][0]:
        return table[0][1]
    for (m0, v0), (m1, v1) in pairwise(table):
        if minute <= m1:
            return round(v0 + (v1 - v0) * (minute - m0) / (m1 - m0))
    return table[-1][1]


def slot_values(story: Story, when: datetime) -> dict[str, str]:
    minute = (when - story.start).total_seconds() / 60
    values = dict(story.fixed)
    for name, table in story.tables.items():
        value = interpolate(table, minute)
        step = story.rounding.get(name, 100 if value >= 1000 else 1)  # prices: round hundreds
        value = round(value / step) * step
        values[name] = f"{value:,}"
        values[f"{name}_k"] = str(value // 1000)
    return values


KERMAN_TAGS = ("#فوری", "#زلزله", "#کرمان", "#راور", "#زلزله_کرمان")
KERMAN_EARLY = (
    "زمین^لرزه^ای به بزرگی {mag} ریشتر ساعت {qtime} بامداد امروز حوالی راور در استان کرمان را لرزاند.",
    "زلزله {mag} ریشتری راور کرمان را لرزاند؛ لرزش^ها در شهرهای کرمان، زرند و کوهبنان نیز احساس شد.",
    "مرکز لرزه^نگاری کشور: زمین^لرزه {mag} ریشتری در عمق {depth} کیلومتری حوالی راور استان کرمان ثبت شد.",
    "وقوع زلزله شدید در راور کرمان؛ مردم وحشت^زده از خانه^ها بیرون آمدند.",
    "گزارش^های اولیه از زلزله {mag} ریشتری راور: تاکنون {injured} مصدوم به مراکز درمانی منتقل شده^اند.",
    "فرماندار راور: زلزله بامداد امروز به چند روستای اطراف راور خسارت زده است و تیم^های ارزیاب در راه هستند.",
)
KERMAN_EARLY_DETAILS = (
    "تیم^های ارزیاب هلال احمر استان کرمان به منطقه اعزام شدند.",
    "برق و تلفن برخی روستاهای اطراف راور قطع شده است.",
    "تاکنون گزارشی از جان^باختگان منتشر نشده است.",
    "از مردم خواسته شده از ورود به ساختمان^های آسیب^دیده خودداری کنند.",
)
KERMAN_TOLL = (
    "رئیس جمعیت هلال احمر استان کرمان: تاکنون {dead} نفر در زلزله راور جان باخته"
    " و {injured} نفر مصدوم شده^اند.",
    "آمار مصدومان زلزله {mag} ریشتری راور کرمان به {injured} نفر رسید.",
    "شمار جان^باختگان زلزله راور کرمان به {dead} نفر افزایش یافت.",
    "استاندار کرمان: {villages} روستای اطراف راور در زلزله امروز آسیب جدی دیده^اند.",
    "مدیرکل مدیریت بحران استان کرمان: پس از زلزله اصلی، {aftershocks} پس^لرزه در راور ثبت شده است.",
    "دانشگاه علوم پزشکی کرمان: {injured} مصدوم زلزله راور به بیمارستان^های کرمان و راور منتقل شدند"
    " و حال {critical} نفر وخیم است.",
    "زلزله راور کرمان تاکنون {dead} کشته و {injured} زخمی برجای گذاشته است.",
)
KERMAN_TOLL_DETAILS = (
    "عملیات آواربرداری در روستاهای آسیب^دیده راور ادامه دارد.",
    "بیمارستان^های استان کرمان در حالت آماده^باش کامل قرار دارند.",
    "هلال احمر از مردم کرمان خواست برای اهدای خون به مراکز انتقال خون مراجعه کنند.",
    "پس^لرزه^ها همچنان در منطقه راور احساس می^شود.",
    "{teams} تیم امداد و نجات از استان^های کرمان و یزد در منطقه حضور دارند.",
)
KERMAN_NEXT_DAY = (
    "آخرین آمار زلزله راور کرمان: {dead} جان^باخته و {injured} مصدوم.",
    "توزیع {tents} چادر امدادی میان زلزله^زدگان راور کرمان آغاز شد.",
    "مدارس شهرستان راور به دلیل زلزله دیروز تا پایان هفته تعطیل شد.",
    "زلزله^زدگان راور کرمان شب را در چادر گذراندند؛ سرمای هوا امدادرسانی را دشوار کرده است.",
    "وزیر کشور برای بررسی خسارت^های زلزله راور وارد کرمان شد.",
    "ثبت {aftershocks} پس^لرزه در راور کرمان از بامداد دیروز؛ بزرگ^ترین پس^لرزه {mag2} ریشتر بود.",
    "بنیاد مسکن: بیش از {houses} واحد مسکونی در زلزله راور کرمان تخریب شده یا آسیب دیده است.",
)
KERMAN_NEXT_DAY_DETAILS = (
    "هلال احمر: نیاز فوری زلزله^زدگان راور پتو، آب آشامیدنی و بخاری است.",
    "ارزیابی خسارت^ها در روستاهای راور ادامه دارد.",
    "حال {critical} مصدوم زلزله راور همچنان وخیم گزارش شده است.",
)

FIRE_TAGS = ("#فوری", "#آتش^سوزی", "#تهران", "#مجتمع_نیلوفر")
FIRE_EARLY = (
    "آتش^سوزی گسترده در مجتمع تجاری نیلوفر در خیابان جمهوری تهران؛ دود غلیظ آسمان منطقه را پوشانده است.",
    "مجتمع تجاری نیلوفر تهران در آتش می^سوزد؛ آتش^نشانان در حال اعزام به محل هستند.",
    "سخنگوی سازمان آتش^نشانی تهران: {stations} ایستگاه آتش^نشانی برای مهار حریق مجتمع نیلوفر"
    " به محل اعزام شدند.",
    "آتش از طبقه سوم مجتمع تجاری نیلوفر آغاز شد و به سرعت به مغازه^های پوشاک سرایت کرد.",
    "حریق در پاساژ نیلوفر خیابان جمهوری؛ کسبه و مشتریان از ساختمان تخلیه شدند.",
    "تصاویر شهروندان از شعله^های آتش در مجتمع تجاری نیلوفر تهران.",
)
FIRE_EARLY_DETAILS = (
    "خیابان جمهوری در محدوده مجتمع نیلوفر مسدود شده است.",
    "شهروندان از تردد در اطراف مجتمع تجاری نیلوفر خودداری کنند.",
    "هنوز علت آتش^سوزی مشخص نیست.",
    "ستون دود از چند کیلومتری دیده می^شود.",
)
FIRE_MID = (
    "آتش^نشانان تاکنون {rescued} نفر را از مجتمع تجاری نیلوفر نجات داده^اند.",
    "سخنگوی آتش^نشانی تهران: آتش مجتمع نیلوفر تا حدودی مهار شده اما خطر ریزش سقف طبقه سوم وجود دارد.",
    "{injured} آتش^نشان در جریان مهار حریق مجتمع تجاری نیلوفر دچار دودزدگی شدند.",
    "{stations} ایستگاه آتش^نشانی همچنان در حال اطفای حریق مجتمع نیلوفر هستند.",
    "اورژانس تهران: {injured} نفر در آتش^سوزی مجتمع نیلوفر مصدوم شدند و تاکنون فوتی گزارش نشده است.",
    "مهار آتش مجتمع تجاری نیلوفر خیابان جمهوری ادامه دارد؛ {rescued} نفر از ساختمان نجات یافتند.",
)
FIRE_MID_DETAILS = (
    "عملیات لکه^گیری و خنک^سازی ساختمان ادامه دارد.",
    "بیش از ۱۲۰ واحد تجاری در مجتمع نیلوفر فعال بودند.",
    "خیابان جمهوری همچنان مسدود است.",
)
FIRE_LATER = (
    "حریق مجتمع تجاری نیلوفر پس از حدود دو ساعت به طور کامل مهار شد.",
    "علت آتش^سوزی مجتمع نیلوفر در دست بررسی است؛ اتصالی برق یکی از احتمال^های مطرح^شده است.",
    "کسبه مجتمع تجاری نیلوفر: خسارت آتش^سوزی بیش از {loss} میلیارد تومان است.",
    "دادستان تهران دستور بررسی علت حریق مجتمع تجاری نیلوفر را صادر کرد.",
    "شهرداری تهران: ساختمان مجتمع نیلوفر تا اعلام نظر کارشناسان پلمب می^شود.",
)
FIRE_LATER_DETAILS = (
    "ایمنی این ساختمان پیش^تر بارها به مالکان گوشزد شده بود.",
    "کسبه مجتمع نیلوفر خواستار رسیدگی سریع به خسارت^ها شدند.",
)

DERBY_TAGS = ("#دربی", "#پرسپولیس", "#استقلال", "#شهرآورد")
DERBY_RESULT = (
    "پایان دربی؛ پرسپولیس 2 بر 1 استقلال را در ورزشگاه آزادی شکست داد.",
    "پرسپولیس برنده شهرآورد تهران شد؛ گل پیروزی را امیرحسین نیک^فر در دقیقه 84 به ثمر رساند.",
    "دربی پایتخت با برتری 2-1 پرسپولیس مقابل استقلال به پایان رسید.",
    "گل^های پرسپولیس در دربی را کیان شیرزاد و امیرحسین نیک^فر زدند؛ تک گل استقلال را پویا صدری به ثمر رساند.",
    "پرسپولیس با پیروزی 2 بر 1 مقابل استقلال به صدر جدول لیگ برتر رسید.",
    "سرمربی استقلال پس از شکست در دربی: داوری روی نتیجه بازی تأثیر گذاشت.",
    "سرمربی پرسپولیس: برد در دربی را به هواداران پرسپولیس تقدیم می^کنیم.",
    "شادی هواداران پرسپولیس در خیابان^های تهران پس از برد 2-1 مقابل استقلال.",
)
DERBY_DETAILS = (
    "این دربی با حضور 78 هزار تماشاگر در ورزشگاه آزادی برگزار شد.",
    "استقلال در نیمه دوم با گل پویا صدری بازی را به تساوی کشانده بود.",
    "نیک^فر در دقیقه 84 با ضربه سر دروازه استقلال را باز کرد.",
    "پرسپولیس با 48 امتیاز صدرنشین لیگ برتر شد.",
    "استقلال با این شکست در رده سوم جدول باقی ماند.",
)
DERBY_LATER = (
    "کمیته انضباطی فدراسیون فوتبال به حواشی دربی پرسپولیس و استقلال رسیدگی می^کند.",
    "باشگاه استقلال به داوری دربی با پرسپولیس اعتراض رسمی کرد.",
    "کارشناس داوری: گل دوم پرسپولیس در دربی صحیح بود و خطایی روی دروازه^بان استقلال رخ نداد.",
    "آمار دربی: پرسپولیس 58 درصد مالکیت توپ داشت و 6 شوت در چارچوب استقلال زد.",
    "امیرحسین نیک^فر، زننده گل پیروزی پرسپولیس در دربی: بهترین شب فوتبالم بود.",
)
DERBY_LATER_DETAILS = (
    "هواداران استقلال خواستار برکناری سرمربی تیم شدند.",
    "دربی برگشت دو تیم در نیم^فصل دوم لیگ برتر برگزار می^شود.",
)

FX_TAGS = ("#دلار", "#بانک_مرکزی", "#بازار_ارز", "#اقتصادی")
FX_JUMP = (
    "قیمت دلار در بازار آزاد تهران امروز به {usd} تومان رسید.",
    "جهش دلار در بازار تهران؛ هر دلار آمریکا {usd} تومان معامله شد.",
    "دلار در معاملات امروز بازار آزاد از مرز {usd_k} هزار تومان عبور کرد.",
    "صرافی^های خیابان فردوسی تهران دلار را {usd} تومان می^فروشند.",
    "افزایش {delta} تومانی قیمت دلار در بازار آزاد از صبح امروز.",
    "یورو هم همراه دلار گران شد؛ هر یورو در بازار آزاد تهران {eur} تومان.",
)
FX_JUMP_DETAILS = (
    "قیمت سکه تمام بهار آزادی نیز همراه دلار افزایش یافت.",
    "فعالان بازار ارز از افزایش تقاضای دلار خبر می^دهند.",
    "بازار ارز تهران امروز پرنوسان است.",
)
FX_CENTRAL_BANK = (
    "بانک مرکزی نرخ سود سپرده^های یک^ساله را به 25 درصد افزایش داد.",
    "رئیس کل بانک مرکزی: افزایش نرخ سود بانکی برای مهار تورم و آرام کردن بازار ارز است.",
    "پس از اعلام افزایش نرخ سود از سوی بانک مرکزی، دلار در بازار آزاد {usd} تومان معامله شد.",
    "بانک مرکزی در واکنش به جهش دلار، نرخ سود بین^بانکی را بالا برد.",
    "اطلاعیه بانک مرکزی: بانک^ها از امروز مجازند سود سپرده یک^ساله را تا 25 درصد بپردازند.",
    "دلار {usd} تومانی شد؛ بانک مرکزی از تزریق ارز به بازار خبر داد.",
)
FX_CENTRAL_BANK_DETAILS = (
    "کارشناسان اقتصادی اثر این تصمیم بر بازار ارز را کوتاه^مدت می^دانند.",
    "نرخ سود سپرده^های یک^ساله پیش^تر 23 درصد بود.",
    "بورس تهران امروز با افت شاخص همراه بود.",
)
FX_LATER = (
    "دلار در پایان معاملات امروز بازار آزاد تهران {usd} تومان قیمت خورد.",
    "شاخص کل بورس تهران پس از افزایش نرخ سود بانکی {index_drop} هزار واحد افت کرد.",
    "واکنش بازار ارز به تصمیم بانک مرکزی؛ دلار در محدوده {usd} تومان معامله می^شود.",
    "نمایندگان مجلس خواستار حضور رئیس کل بانک مرکزی در کمیسیون اقتصادی درباره جهش دلار شدند.",
    "صرافی^های بانکی نرخ فروش دلار را {usd_bank} تومان اعلام کردند.",
)

CHALUS_TAGS = ("#جاده_چالوس", "#برف", "#پلیس_راه", "#مازندران")
CHALUS_BURST = (
    "جاده چالوس به دلیل بارش سنگین برف از ساعت 4 بامداد امروز در هر دو مسیر مسدود شد.",
    "پلیس راه مازندران: محور کرج-چالوس به علت بارش برف و کولاک تا اطلاع ثانوی بسته است.",
    "ارتفاع برف در گردنه کندوان جاده چالوس به {snow_cm} سانتی^متر رسید.",
    "حدود {cars} خودرو در برف جاده چالوس گرفتار شده^اند؛ نیروهای هلال احمر به محل اعزام شدند.",
    "انسداد جاده چالوس؛ مسافران شمال از آزادراه تهران-شمال و محور هراز استفاده کنند.",
    "کولاک در تونل کندوان؛ تردد در جاده چالوس کاملاً متوقف شده است.",
    "راهداری استان البرز: {machines} دستگاه راهداری برای برف^روبی جاده چالوس به کار گرفته شده^اند.",
)
CHALUS_DETAILS = (
    "هواشناسی برای امروز بارش برف بیشتری در ارتفاعات البرز پیش^بینی کرده است.",
    "رانندگان بدون زنجیرچرخ به سمت مرزن^آباد حرکت نکنند.",
    "دمای هوا در گردنه کندوان به 12 درجه زیر صفر رسیده است.",
    "محور هراز با زنجیرچرخ باز است.",
)
CHALUS_LATER = (
    "جاده چالوس پس از ساعت^ها انسداد، یک^طرفه از کرج به سمت شمال بازگشایی شد.",
    "هلال احمر: تاکنون به {rescued} مسافر گرفتار در برف جاده چالوس امدادرسانی شده است.",
    "برف^روبی جاده چالوس ادامه دارد؛ تردد فقط با زنجیرچرخ مجاز است.",
    "پلیس راه: جاده چالوس امشب هم به دلیل یخ^زدگی احتمالاً بسته می^شود.",
)

FLIGHT_TAGS = ("#فرود_اضطراری", "#مشهد", "#هواپیمایی")
FLIGHT_BURST = (
    "فرود اضطراری هواپیمای مسافربری پرواز تهران-مشهد در فرودگاه مشهد.",
    "هواپیمای پرواز 724 تهران-مشهد به دلیل نقص فنی در چرخ جلو در فرودگاه شهید هاشمی^نژاد مشهد"
    " فرود اضطراری کرد.",
    "مدیرکل فرودگاه^های خراسان رضوی: هر 168 مسافر پرواز تهران-مشهد سالم هستند.",
    "لحظه فرود اضطراری هواپیمای تهران-مشهد؛ خودروهای آتش^نشانی فرودگاه مشهد در آماده^باش بودند.",
    "سازمان هواپیمایی کشوری: علت فرود اضطراری پرواز 724 در مشهد در حال بررسی است.",
    "خلبان پرواز تهران-مشهد پس از اعلام نقص فنی، هواپیما را با موفقیت در باند فرودگاه مشهد نشاند.",
)
FLIGHT_DETAILS = (
    "پروازهای فرودگاه مشهد حدود {delay} دقیقه با تأخیر انجام شد.",
    "مسافران با اتوبوس از باند به ترمینال منتقل شدند.",
    "هیچ^یک از مسافران آسیب ندیدند.",
)
FLIGHT_LATER = (
    "سازمان هواپیمایی کشوری هواپیمای پرواز 724 را تا پایان بررسی فنی زمین^گیر کرد.",
    "پروازهای فرودگاه مشهد پس از فرود اضطراری عصر امروز به روال عادی بازگشت.",
    "یکی از مسافران پرواز تهران-مشهد: لحظات پراسترسی را پشت سر گذاشتیم.",
)

BLAST_TAGS = ("#فوری", "#عسلویه", "#انفجار", "#پتروشیمی")
BLAST_EARLY = (
    "انفجار مهیب در پتروشیمی آبنوس جنوب در عسلویه؛ ستون دود از کیلومترها دورتر دیده می^شود.",
    "صدای انفجار در منطقه ویژه اقتصادی انرژی پارس در عسلویه شنیده شد.",
    "وقوع انفجار و آتش^سوزی در واحد اتیلن پتروشیمی آبنوس جنوب عسلویه.",
    "فرماندار عسلویه: انفجار در پتروشیمی آبنوس جنوب رخ داده و تیم^های آتش^نشانی در محل حاضرند.",
    "گزارش^های اولیه از {injured} مصدوم در انفجار پتروشیمی عسلویه.",
)
BLAST_EARLY_DETAILS = (
    "آمبولانس^ها و بالگرد اورژانس به منطقه اعزام شدند.",
    "علت انفجار هنوز مشخص نیست.",
    "خط تولید این واحد پتروشیمی متوقف شد.",
)
BLAST_MID = (
    "رئیس دانشگاه علوم پزشکی بوشهر: {injured} کارگر در انفجار پتروشیمی عسلویه مصدوم شدند.",
    "انفجار پتروشیمی آبنوس جنوب عسلویه {dead} کشته و {injured} مصدوم برجای گذاشت.",
    "آتش ناشی از انفجار پتروشیمی آبنوس جنوب در عسلویه تا حدودی مهار شده است.",
    "استاندار بوشهر: مصدومان انفجار عسلویه به بیمارستان^های بوشهر و کنگان منتقل شدند.",
    "مدیرعامل پتروشیمی آبنوس جنوب: نشت گاز در واحد اتیلن علت احتمالی انفجار است.",
    "شمار مصدومان انفجار پتروشیمی عسلویه به {injured} نفر رسید.",
)
BLAST_MID_DETAILS = (
    "حال {critical} نفر از مصدومان وخیم گزارش شده است.",
    "ساکنان اطراف عسلویه به دلیل آلودگی هوا از خانه خارج نشوند.",
    "تیم^های آتش^نشانی دیگر پتروشیمی^های پارس جنوبی به کمک آمده^اند.",
)
BLAST_LATER = (
    "آتش پتروشیمی آبنوس جنوب عسلویه به طور کامل خاموش شد.",
    "دادستان بوشهر پرونده قضایی انفجار پتروشیمی عسلویه را تشکیل داد.",
    "وزیر نفت دستور تشکیل کمیته ویژه بررسی انفجار پتروشیمی عسلویه را صادر کرد.",
    "آخرین آمار انفجار پتروشیمی عسلویه: {dead} جان^باخته و {injured} مصدوم.",
    "کارگران پتروشیمی آبنوس جنوب پیش^تر درباره فرسودگی تجهیزات واحد اتیلن هشدار داده بودند.",
)


def slow(start: datetime, source: str, lead: str) -> Segment:
    """One post of a slow story."""
    return Segment(start=start, span_min=0, count=1, leads=(lead,), sources=(source,))


STORIES: tuple[Story, ...] = (
    Story(
        key="kerman-earthquake",
        title="Magnitude 5.8 earthquake near Ravar, Kerman province (casualty updates; follow-ups on day 2)",
        sources=ALL_SOURCES,
        hashtags=KERMAN_TAGS,
        emerging=True,
        segments=(
            Segment(at(DAY1, "06:47"), 45, 9, KERMAN_EARLY, KERMAN_EARLY_DETAILS),
            Segment(at(DAY1, "07:35"), 110, 16, KERMAN_TOLL, KERMAN_TOLL_DETAILS),
            Segment(at(DAY1, "10:05"), 775, 10, KERMAN_TOLL, KERMAN_TOLL_DETAILS, burst=False),
            Segment(at(DAY2, "07:00"), 870, 13, KERMAN_NEXT_DAY, KERMAN_NEXT_DAY_DETAILS, burst=False),
        ),
        tables={
            # No deaths reported in the first 45 minutes (the early posts say so), then a rising toll.
            "dead": ((0, 0), (45, 0), (48, 2), (80, 3), (120, 5), (160, 7), (400, 9), (900, 11), (2300, 14)),
            "injured": (
                (0, 12),
                (30, 27),
                (70, 48),
                (120, 73),
                (160, 96),
                (400, 118),
                (900, 131),
                (2300, 147),
            ),
            "critical": ((0, 1), (100, 4), (400, 7), (1500, 6), (2300, 5)),
            "aftershocks": ((0, 3), (60, 9), (160, 21), (600, 34), (1500, 52), (2300, 61)),
            "villages": ((0, 6), (90, 14), (160, 23), (600, 31), (1500, 38), (2300, 41)),
            "teams": ((0, 4), (100, 18), (400, 35), (1500, 52)),
            "tents": ((0, 300), (600, 1200), (1500, 2600), (2300, 3400)),
            "houses": ((0, 200), (1500, 1850), (2300, 2300)),
        },
        fixed={"mag": "5.8", "qtime": "6:42", "depth": "10", "mag2": "4.6"},
        rounding={"tents": 100, "houses": 50},
    ),
    Story(
        key="tehran-mall-fire",
        title="Fire at the Niloufar shopping centre, Jomhouri Street, Tehran",
        sources=("tehran_news", "khabar_fori", "iran_akhbar", "rooz_news"),
        hashtags=FIRE_TAGS,
        emerging=True,
        segments=(
            Segment(at(DAY1, "13:10"), 50, 10, FIRE_EARLY, FIRE_EARLY_DETAILS),
            Segment(at(DAY1, "14:05"), 60, 12, FIRE_MID, FIRE_MID_DETAILS),
            Segment(at(DAY1, "16:20"), 370, 8, FIRE_LATER, FIRE_LATER_DETAILS, burst=False),
        ),
        tables={
            "stations": ((0, 4), (30, 9), (70, 14), (120, 16)),
            "rescued": ((0, 3), (20, 12), (60, 35), (100, 48), (300, 52)),
            "injured": ((0, 1), (25, 2), (60, 5), (110, 7), (600, 8)),
        },
        fixed={"loss": "200"},
    ),
    Story(
        key="persepolis-esteghlal-derby",
        title="Tehran derby: Persepolis 2-1 Esteghlal at Azadi Stadium",
        sources=("khabar_fori", "tehran_news", "rooz_news", "iran_akhbar", "sahar_daily"),
        hashtags=DERBY_TAGS,
        emerging=True,
        segments=(
            Segment(at(DAY1, "18:58"), 85, 20, DERBY_RESULT, DERBY_DETAILS),
            Segment(at(DAY1, "21:10"), 165, 10, DERBY_LATER, DERBY_LATER_DETAILS, burst=False),
        ),
    ),
    Story(
        key="dollar-jump-rate-hike",
        title="Dollar jumps on Tehran's open market; central bank raises deposit interest rates",
        sources=("payam_agency", "iran_akhbar", "khabar_fori", "sahar_daily"),
        hashtags=FX_TAGS,
        emerging=True,
        segments=(
            Segment(at(DAY2, "11:00"), 60, 10, FX_JUMP, FX_JUMP_DETAILS),
            Segment(at(DAY2, "12:05"), 55, 12, FX_CENTRAL_BANK, FX_CENTRAL_BANK_DETAILS),
            Segment(at(DAY2, "14:05"), 470, 8, FX_LATER, FX_CENTRAL_BANK_DETAILS, burst=False),
        ),
        tables={
            "usd": ((0, 98600), (30, 99800), (60, 101200), (120, 103900), (400, 104700), (700, 103800)),
            "delta": ((0, 1200), (30, 2400), (60, 3800), (120, 6500), (400, 7300), (700, 6400)),
            "eur": ((0, 107300), (60, 110200), (120, 113100), (700, 113000)),
            "usd_bank": ((0, 96100), (700, 97500)),
            "index_drop": ((150, 38), (700, 61)),
        },
    ),
    Story(
        key="chalus-road-snow",
        title="Heavy snow closes the Karaj-Chalus road (Kandovan pass)",
        sources=("tehran_news", "khabar_fori", "rooz_news", "payam_agency"),
        hashtags=CHALUS_TAGS,
        emerging=True,
        segments=(
            Segment(at(DAY2, "07:20"), 170, 20, CHALUS_BURST, CHALUS_DETAILS),
            Segment(at(DAY2, "10:25"), 420, 8, CHALUS_LATER, CHALUS_DETAILS, burst=False),
        ),
        tables={
            "snow_cm": ((0, 40), (60, 55), (170, 70), (500, 80)),
            "cars": ((0, 150), (60, 300), (170, 420), (400, 380), (600, 200)),
            "machines": ((0, 25), (120, 60), (400, 85)),
            "rescued": ((200, 600), (600, 1400)),
        },
        rounding={"cars": 10, "rescued": 50},
    ),
    Story(
        key="mashhad-emergency-landing",
        title="Tehran-Mashhad flight 724 makes an emergency landing in Mashhad",
        sources=("khabar_fori", "iran_akhbar", "payam_agency"),
        hashtags=FLIGHT_TAGS,
        emerging=True,
        segments=(
            Segment(at(DAY2, "15:10"), 80, 14, FLIGHT_BURST, FLIGHT_DETAILS),
            Segment(at(DAY2, "18:15"), 200, 4, FLIGHT_LATER, FLIGHT_DETAILS, burst=False),
        ),
        tables={"delay": ((0, 20), (40, 45), (80, 70), (300, 90))},
        rounding={"delay": 5},
    ),
    Story(
        key="asaluyeh-petrochemical-explosion",
        title="Explosion at the Abnous Jonoub petrochemical plant, Asaluyeh",
        sources=("iran_akhbar", "khabar_fori", "payam_agency", "sahar_daily", "rooz_news"),
        hashtags=BLAST_TAGS,
        emerging=True,
        segments=(
            Segment(at(DAY2, "18:30"), 55, 10, BLAST_EARLY, BLAST_EARLY_DETAILS),
            Segment(at(DAY2, "19:30"), 60, 12, BLAST_MID, BLAST_MID_DETAILS),
            Segment(at(DAY2, "21:35"), 140, 8, BLAST_LATER, BLAST_MID_DETAILS, burst=False),
        ),
        tables={
            "injured": ((0, 3), (20, 5), (60, 11), (120, 17), (300, 19)),
            "dead": ((0, 1), (100, 2), (300, 3)),
            "critical": ((0, 2), (120, 4), (300, 5)),
        },
    ),
    Story(
        key="budget-bill-1405",
        title="Parliament passes the outline of the 1405 budget bill (slow)",
        sources=("sahar_daily",),
        hashtags=("#بودجه", "#مجلس"),
        emerging=False,
        segments=(
            slow(
                at(DAY1, "05:40"),
                "sahar_daily",
                "بررسی کلیات لایحه بودجه 1405 امروز در دستور کار صحن علنی مجلس قرار دارد.",
            ),
            slow(
                at(DAY1, "11:20"),
                "sahar_daily",
                "مجلس کلیات لایحه بودجه 1405 کل کشور را با 186 رأی موافق تصویب کرد.",
            ),
            slow(
                at(DAY1, "22:05"),
                "sahar_daily",
                "سخنگوی کمیسیون تلفیق: بررسی جزئیات لایحه بودجه 1405 از هفته آینده در مجلس آغاز می^شود.",
            ),
        ),
    ),
    Story(
        key="konkur-date",
        title="National university entrance exam (Konkur) 1405 dates announced (slow)",
        sources=("rooz_news",),
        hashtags=("#کنکور", "#سازمان_سنجش"),
        emerging=False,
        segments=(
            slow(
                at(DAY1, "04:50"),
                "rooz_news",
                "سازمان سنجش آموزش کشور: کنکور سراسری 1405 روزهای 18 و 19 تیرماه برگزار می^شود.",
            ),
            slow(
                at(DAY1, "15:30"),
                "rooz_news",
                "زمان ثبت^نام کنکور سراسری 1405 اعلام شد؛ داوطلبان از 20 اسفند تا 5 فروردین"
                " فرصت ثبت^نام دارند.",
            ),
        ),
    ),
    Story(
        key="fm-baghdad-visit",
        title="Foreign minister's one-day visit to Baghdad (slow)",
        sources=("payam_agency",),
        hashtags=("#سیاست_خارجی", "#عراق"),
        emerging=False,
        segments=(
            slow(
                at(DAY2, "08:20"),
                "payam_agency",
                "وزیر امور خارجه صبح امروز برای سفری یک^روزه عازم بغداد شد.",
            ),
            slow(
                at(DAY2, "14:10"),
                "payam_agency",
                "وزیر امور خارجه در بغداد با نخست^وزیر و همتای عراقی خود دیدار و گفت^وگو کرد.",
            ),
            slow(
                at(DAY2, "21:30"),
                "payam_agency",
                "وزیر امور خارجه در پایان سفر به بغداد: درباره تجارت مرزی و زائران با طرف عراقی"
                " به توافق^های خوبی رسیدیم.",
            ),
        ),
    ),
)

# ----------------------------------------------------------------------------------------------- noise

# (text, day (1 or 2), earliest hour, latest hour, fixed source or ""): each one a story of its own.
NOISE: tuple[tuple[str, int, float, float, str], ...] = (
    ("🌙 شب بخیر همراهان عزیز\nهر جا هستید دلتان آرام و خوابتان شیرین باشد.", 1, 0.08, 0.6, ""),
    (
        "«بیا تا گل برافشانیم و می در ساغر اندازیم\nفلک را سقف بشکافیم و طرحی نو دراندازیم»\n#حافظ",
        1,
        0.5,
        1.5,
        "",
    ),
    (
        "🔐 فروش ویژه VPN پرسرعت\n✅ بدون قطعی، مناسب اینستاگرام و یوتیوب\n✅ یک^ماهه فقط ۱۸۹ هزار تومان\n"
        "سفارش در دایرکت 👇\n@fast_vpn_shop",
        1,
        0.8,
        2.0,
        "",
    ),
    ("📌 یک عکس سنجاق شد", 1, 1.0, 2.5, ""),
    ("فراموش نکنید تا اذان صبح کمتر از یک ساعت مانده است؛ التماس دعا 🤲", 1, 4.0, 4.4, ""),
    (
        "💰 خرید و فروش سکه و طلای آب^شده با بهترین قیمت\n"
        "طلافروشی جواهری مهر، بازار بزرگ تهران، راسته طلافروشان\n"
        "☎️ ۰۲۱-۵۵۵۵۰۰۰۰",
        1,
        1.5,
        3.0,
        "",
    ),
    ("«بنی^آدم اعضای یکدیگرند\nکه در آفرینش ز یک گوهرند»\n#سعدی", 1, 2.0, 3.5, ""),
    (
        "🎓 آموزش زبان انگلیسی در ۹۰ روز!\nکلاس^های آنلاین مکالمه با اساتید مجرب\n"
        "ثبت^نام ترم جدید با ۳۰٪ تخفیف تا پایان اسفند",
        1,
        2.5,
        4.0,
        "",
    ),
    ("بیدارید هنوز؟ 😅 یه شکلک بفرستید ببینیم چند نفر آنلاینن", 1, 1.2, 2.2, ""),
    (
        "📣 کانال ما را به دوستان خود معرفی کنید\nاخبار لحظه^ای، بی^طرف و سریع 👇\n@iran_akhbar",
        1,
        3.0,
        4.0,
        "iran_akhbar",
    ),
    ("🌧 امشب در تهران نم^نم باران می^بارد؛ انگار هوای بهاری زودتر از موعد رسیده.", 1, 0.3, 1.0, ""),
    ("☕️ سحرتون بخیر دوستان؛ کسی که برای سحری بیدار شده دست بالا ✋", 1, 3.6, 4.2, ""),
    ("💎 سیگنال رایگان ارز دیجیتال با سود تضمینی!\nعضویت در کانال VIP فقط امروز رایگان است", 1, 4.5, 5.5, ""),
    ("«این قافله عمر عجب می^گذرد\nدریاب دمی که با طرب می^گذرد»\n#خیام", 1, 5.2, 6.3, ""),
    ("☀️ صبح دوشنبه^تان بخیر\nامروز دوشنبه ۱۱ اسفند ۱۴۰۴ | ۲ مارس ۲۰۲۶", 1, 6.0, 6.6, ""),
    (
        "🏠 فروش آپارتمان ۸۵ متری نوساز در پردیس\nدو خواب، پارکینگ و انباری، سند تک^برگ\n"
        "تماس فقط در ساعات اداری",
        1,
        7.0,
        10.0,
        "",
    ),
    ("🥗 رژیم لاغری بدون گرسنگی! کاهش ۸ کیلو وزن در یک ماه با برنامه غذایی اختصاصی", 1, 8.0, 11.0, ""),
    ("📸 عکس روز: غروب آفتاب بر فراز دریاچه ارومیه از نگاه یکی از همراهان کانال", 1, 10.0, 12.0, ""),
    (
        "🎁 مسابقه کانال: پایتخت کشور استرالیا کجاست؟ به سه نفر اول که درست جواب بدهند شارژ هدیه می^دهیم.",
        1,
        11.0,
        13.0,
        "",
    ),
    ("🛒 حراج بهاره کیف و کفش تا ۵۰ درصد تخفیف؛ ارسال رایگان به سراسر کشور", 1, 9.0, 12.0, ""),
    (
        "💡 نکته سلامت: نوشیدن آب کافی بین افطار تا سحر از سردرد و خستگی روزانه جلوگیری می^کند.",
        1,
        12.0,
        15.0,
        "",
    ),
    ("ادمین کانال هم آدم است؛ اگر خبری دیر رسید به بزرگی خودتان ببخشید 🙏", 1, 15.0, 17.0, ""),
    (
        "📚 پیشنهاد کتاب: «بوف کور» نوشته صادق هدایت؛ رمانی کوتاه که بارها به زبان^های مختلف ترجمه شده است.",
        1,
        14.0,
        16.0,
        "",
    ),
    ("🚗 اجاره خودرو بدون راننده در تهران و کیش؛ تحویل در محل، بیمه کامل", 1, 13.0, 16.0, ""),
    ("🔊 لینک گروه گفت^وگوی کانال دوباره فعال شد؛ لطفاً قوانین گروه را رعایت کنید.", 1, 16.0, 18.0, ""),
    ("«کار نیکو کردن از پر کردن است»؛ ضرب^المثلی که هیچ^وقت کهنه نمی^شود.", 1, 8.0, 10.0, ""),
    ("✈️ تور نوروزی استانبول و وان با اقامت در هتل چهار ستاره؛ ظرفیت محدود", 1, 15.5, 17.5, ""),
    ("🌤 اینجا تهران؛ آسمان آفتابی است و کیفیت هوا قابل قبول. از هوای خوب امروز لذت ببرید.", 1, 9.5, 11.0, ""),
    (
        "🎧 پادکست تازه ما درباره تاریخچه قهوه^خانه^های تهران منتشر شد؛ گوش بدهید و نظرتان را بگویید.",
        1,
        17.0,
        18.5,
        "",
    ),
    ("📌 یک ویدیو سنجاق شد", 1, 12.0, 14.0, ""),
    ("🍲 طرز تهیه آش رشته برای افطار: رشته، حبوبات خیس^خورده، سبزی آش و کشک؛ نوش جان!", 1, 16.0, 17.5, ""),
    ("💳 وام فوری بدون ضامن تا ۳۰۰ میلیون تومان؛ فقط با کارت ملی!", 1, 18.0, 20.0, ""),
    (
        "«به جهان خرم از آنم که جهان خرم از اوست\nعاشقم بر همه عالم که همه عالم از اوست»\n#سعدی",
        1,
        20.0,
        22.0,
        "",
    ),
    (
        "🐾 گربه^ای که هر روز صبح جلوی دفتر تحریریه منتظر صبحانه است؛ اسمش را گذاشتیم «خبرنگار».",
        1,
        7.5,
        9.0,
        "",
    ),
    ("📢 تبلیغات در کانال پذیرفته می^شود؛ برای تعرفه^ها به آیدی پشتیبانی پیام دهید.", 1, 19.0, 21.0, ""),
    ("🌙 شب^تون آروم؛ فردا با خبرهای تازه در خدمتتان هستیم.", 1, 23.2, 23.9, ""),
    (
        "♟ معمای شطرنج امشب: سفید شروع می^کند و در دو حرکت مات می^کند. راه^حل را در کامنت^ها بنویسید.",
        1,
        21.5,
        23.0,
        "",
    ),
    ("🧿 فال حافظ امروز را از ما بخواهید؛ فقط نیت کنید و عددی بین ۱ تا ۴۹۵ بفرستید.", 1, 10.0, 13.0, ""),
    ("👕 چاپ اختصاصی لوگو روی تی^شرت برای شرکت^ها و مدارس؛ سفارش از ۲۰ عدد", 1, 17.5, 20.0, ""),
    ("📱 تعمیر تخصصی گوشی موبایل در کمتر از یک ساعت؛ تعویض باتری و صفحه^نمایش با ضمانت", 1, 20.0, 23.0, ""),
    ("🌌 امروز روز پرخبری بود؛ ممنون که همراه ما بودید. شب بخیر.", 2, 0.1, 0.8, ""),
    (
        "«ای ساربان آهسته ران کآرام جانم می^رود\nوان دل که با خود داشتم با دلستانم می^رود»\n#سعدی",
        2,
        0.5,
        1.5,
        "",
    ),
    ("🛡 فیلترشکن اختصاصی با آی^پی ثابت؛ مناسب ترید و کارهای بانکی. تست رایگان ۲۴ ساعته", 2, 1.0, 3.0, ""),
    ("🕯 وقت سحر است؛ دعای خیرتان را از ما دریغ نکنید. یا حق", 2, 3.7, 4.3, ""),
    ("🦉 کی هنوز بیداره؟ آهنگ پیشنهادی امشبتون چیه؟", 2, 1.5, 2.8, ""),
    ("🪙 نیم^سکه و ربع^سکه با اجرت صفر فقط این هفته؛ گالری طلای آفتاب", 2, 4.5, 6.3, ""),
    ("☀️ صبح سه^شنبه^تان بخیر؛ امروز ۱۲ اسفند ۱۴۰۴ برابر با ۳ مارس ۲۰۲۶", 2, 6.5, 7.0, ""),
    ("🇬🇧 آیلتس را با خیال راحت قبول شو! دوره فشرده ۸ هفته^ای آمادگی آیلتس با تضمین نمره", 2, 8.0, 11.0, ""),
    ("📌 یک نظرسنجی سنجاق شد", 2, 9.0, 10.5, ""),
    ("📊 نظرسنجی: بیشتر اخبار را از کدام پیام^رسان دنبال می^کنید؟ گزینه^ها در پست بعدی.", 2, 9.0, 10.5, ""),
    ("«تو نیکی می^کن و در دجله انداز\nکه ایزد در بیابانت دهد باز»", 2, 10.0, 13.0, ""),
    ("🌸 کمتر از سه هفته تا بهار مانده؛ خانه^تکانی را شروع کرده^اید؟", 2, 11.0, 14.0, ""),
    ("🧴 کرم ضدآفتاب ارگانیک با ارسال رایگان؛ ضمانت اصالت کالا", 2, 12.0, 15.0, ""),
    ("🙏 از همراهانی که اشتباه تایپی پست قبلی را گزارش دادند ممنونیم.", 2, 13.0, 15.0, ""),
    ("🏋️ باشگاه بدنسازی بانوان؛ ثبت^نام ماهانه با مربی خصوصی و سونا", 2, 14.0, 17.0, ""),
    ("🖋 جمله روز: «آدمی فربه شود از راه گوش / جانور فربه شود از حلق و نوش» #مولوی", 2, 7.0, 9.0, ""),
    ("🍊 پرتقال شب عید را امسال از کجا می^خرید؟ میدان میوه و تره^بار یا مغازه محله؟", 2, 16.0, 18.0, ""),
    ("🌦 هوای امروز شیراز بهاری است و درخت^های نارنج کم^کم جوانه می^زنند.", 2, 9.5, 12.0, ""),
    ("🎬 پیشنهاد فیلم آخر هفته: «جدایی نادر از سیمین»؛ اثری که هنوز هم دیدنی است.", 2, 17.0, 19.0, ""),
    ("📦 فروش عمده ظروف یک^بار مصرف گیاهی؛ مناسب رستوران^ها و کافه^ها", 2, 15.0, 18.0, ""),
    ("🔔 اعلان کانال را روشن کنید تا هیچ خبری را از دست ندهید.", 2, 18.0, 20.0, ""),
    (
        "💬 همراهان عزیز، پیام^های زیادی درباره تبلیغات دریافت کرده^ایم؛"
        " فقط از آیدی رسمی پشتیبانی پاسخ می^دهیم.",
        2,
        19.0,
        21.0,
        "",
    ),
    (
        "🌿 دمنوش گل^گاوزبان و به^لیمو برای آرامش شب؛ خواص گیاهان دارویی را در پست بعدی بخوانید.",
        2,
        21.0,
        22.5,
        "",
    ),
    ("🎹 کلاس خصوصی پیانو و تار برای کودکان و بزرگسالان در غرب تهران", 2, 20.0, 22.0, ""),
    ("🌙 امیدواریم شب آرامی داشته باشید؛ تا فردا خدانگهدار.", 2, 23.3, 23.9, ""),
    ("🧩 جدول کلمات متقاطع این هفته منتشر شد؛ اولین حل^کننده جایزه می^گیرد.", 2, 13.5, 16.0, ""),
    ("🌷 ماه رمضان فرصتی برای مهربانی بیشتر است؛ به همسایه^ها سر بزنید.", 2, 17.5, 19.0, ""),
    ("📚 یادگیری زبان آلمانی برای مهاجرت؛ کلاس^های A1 تا B2 با مدرس بومی", 2, 21.0, 23.0, ""),
    ("🚲 دوچرخه^سواری صبحگاهی در بوستان پردیسان؛ چه کسی همراه می^شود؟", 2, 6.6, 8.0, ""),
    ("🖼 نمایشگاه نقاشی آبرنگ هنرمندان جوان در گالری شیرین تا پایان هفته برپاست.", 2, 11.5, 14.5, ""),
)

# ------------------------------------------------------------------------------------------ generation


@dataclass
class Entry:
    """One line of the output before ids are dealt: a valid post or a malformed line."""

    when: datetime
    source: str
    story: str
    text: str = ""
    fault: str = ""  # empty for a valid post
    post_id: str = ""


def with_zwnj(text: str) -> str:
    return text.replace(ZWNJ_MARK, ZWNJ)


def to_persian_digits(text: str) -> str:
    return _THOUSANDS.sub("٬", text).translate(_PERSIAN_DIGITS)


def dress(rng: random.Random, style: SourceStyle, body: str, hashtags: Sequence[str]) -> str:
    """Turn a plain sentence into a Telegram post of ``style``: digits, spelling, emoji, tags, signature."""
    text = with_zwnj(body)
    if rng.random() < style.persian_digits_p:
        text = to_persian_digits(text)
    if ZWNJ in text:
        roll = rng.random()
        if roll < style.zwnj_drop_p:
            text = text.replace(ZWNJ, "")  # "می‌شود" -> "میشود"
        elif roll < style.zwnj_drop_p + 0.08:
            text = text.replace(ZWNJ, " ")  # "می‌شود" -> "می شود"
        elif roll < style.zwnj_drop_p + 0.11:
            text = text.replace(ZWNJ, ZWNJ * 2)  # doubled joiners, a copy-paste artefact
    if rng.random() < style.arabic_letters_p:
        text = text.translate(_ARABIC_LETTERS)  # "کرمان" -> "كرمان", "ی" -> "ي"
    lines = []
    if rng.random() < style.prefix_p:
        lines.append(rng.choice(style.prefixes))
    lines.append(text)
    if hashtags and rng.random() < style.hashtag_p:
        lines.append(
            " ".join(
                with_zwnj(tag) for tag in rng.sample(list(hashtags), min(len(hashtags), rng.randint(1, 3)))
            )
        )
    post = "\n".join(lines)
    if rng.random() < style.signature_p:
        post += style.signature
    return post


def segment_times(rng: random.Random, segment: Segment) -> list[datetime]:
    seconds = segment.span_min * 60
    if segment.burst:
        # The first post opens the segment; the rest crowd towards its beginning.
        offsets = [0, *sorted(int(seconds * rng.random() ** 1.4) for _ in range(segment.count - 1))]
    else:
        offsets = sorted(rng.randrange(seconds) for _ in range(segment.count))
    return [segment.start + timedelta(seconds=offset + rng.randrange(60)) for offset in offsets]


def story_posts(rng: random.Random, story: Story, seen: set[str]) -> list[Entry]:
    entries: list[Entry] = []
    for index, segment in enumerate(story.segments):
        sources = segment.sources or story.sources
        times = segment_times(rng, segment)
        # The first segment of a story opens with distinct channels, so a burst always has several sources.
        opening = rng.sample(list(sources), min(3, len(sources), len(times))) if index == 0 else []
        deck: list[str] = []
        for number, when in enumerate(times):
            source = opening[number] if number < len(opening) else rng.choice(sources)
            style = SOURCES[source]
            values = slot_values(story, when)
            for _attempt in range(200):
                if not deck:
                    deck = list(segment.leads)
                    rng.shuffle(deck)
                body = deck.pop().format(**values)
                if segment.details and rng.random() < 0.6:
                    details = rng.sample(list(segment.details), 2 if rng.random() < 0.15 else 1)
                    body = " ".join([body, *(detail.format(**values) for detail in details)])
                text = dress(rng, style, body, story.hashtags)
                if text not in seen:
                    break
            else:
                raise RuntimeError(f"could not write a new post for {story.key} at {when}")
            seen.add(text)
            entries.append(Entry(when=when, source=source, story=story.key, text=text))
    return entries


def noise_posts(rng: random.Random, seen: set[str]) -> list[Entry]:
    entries = []
    for body, day, earliest, latest, fixed_source in NOISE:
        start = (DAY1 if day == 1 else DAY2) + timedelta(hours=earliest)
        when = start + timedelta(seconds=rng.randrange(int((latest - earliest) * 3600)))
        source = fixed_source or rng.choice(ALL_SOURCES)
        style = SOURCES[source]
        text = with_zwnj(body)
        if rng.random() < style.signature_p and "@" not in text:
            text += style.signature
        if text in seen:
            raise RuntimeError(f"noise post is not unique: {text!r}")
        seen.add(text)
        entries.append(Entry(when=when, source=source, story="noise", text=text))
    return entries


def malformed_lines() -> list[Entry]:
    """One line per fault (see samples/README.md). ``when`` places the line in the stream."""

    def bad(hhmmss: str, day: datetime, source: str, fault: str, text: str = "") -> Entry:
        hours, minutes, seconds = (int(part) for part in hhmmss.split(":"))
        when = day + timedelta(hours=hours, minutes=minutes, seconds=seconds)
        return Entry(when=when, source=source, story="malformed", text=with_zwnj(text), fault=fault)

    return [
        bad(
            "08:05:40",
            DAY1,
            "iran_akhbar",
            "truncated",
            "🔹 آخرین وضعیت زلزله راور کرمان: تیم^های امدادی هلال احمر همچنان در روستاهای آسیب^دیده مشغول"
            " آواربرداری هستند.",
        ),
        bad(
            "10:00:00",
            DAY1,
            "rooz_news",
            "naive_timestamp",
            "📌 جلسه فوق^العاده شورای شهر تهران امروز برگزار می^شود.",
        ),
        bad(
            "10:31:10",
            DAY1,
            "tehran_news",
            "array",
            "⭕️ ترافیک سنگین در بزرگراه همت غرب به شرق؛ رانندگان مسیرهای جایگزین را انتخاب کنند."
            "\n@TehranNews",
        ),
        bad("12:02:15", DAY1, "khabar_fori", "missing_text"),
        bad("14:21:05", DAY1, "khabar_fori", "empty_text"),
        bad("17:46:30", DAY1, "sahar_daily", "blank_text"),
        bad(
            "21:12:00",
            DAY1,
            "payam_agency",
            "missing_published_at",
            "نشست خبری سخنگوی دولت فردا ساعت ۱۰ صبح برگزار می^شود.",
        ),
        bad(
            "06:31:00",
            DAY2,
            "rooz_news",
            "bad_timestamp",
            "بازار گل و گیاه محلاتی^ها در آستانه نوروز شلوغ شد.",
        ),
        bad("09:41:20", DAY2, "iran_akhbar", "numeric_text"),
        bad(
            "12:31:45",
            DAY2,
            "",
            "duplicate_id",
            "🔴 بازنشر: گزارش تکمیلی از بازار کتاب و لوازم^التحریر در آستانه نوروز.",
        ),
        bad(
            "16:02:10",
            DAY2,
            "khabar_fori",
            "english",
            "Breaking: heavy traffic on Tehran's Hemmat expressway this afternoon; drivers are advised to use"
            " alternative routes.",
        ),
        bad(
            "19:47:00",
            DAY2,
            "sahar_daily",
            "missing_id",
            "🌙 برنامه^های ویژه تلویزیون برای شب^های قدر اعلام شد.",
        ),
    ]


def deal_ids(rng: random.Random, entries: list[Entry]) -> None:
    """Give posts Telegram-like message ids: increasing per channel, with the odd gap (deleted posts)."""
    counters = {name: style.first_id for name, style in SOURCES.items()}
    for entry in sorted(entries, key=lambda item: (item.when, item.source, item.text)):
        if not entry.source:  # the duplicate borrows an existing id later
            continue
        counters[entry.source] += 2 if rng.random() < 0.08 else 1
        entry.post_id = f"{entry.source}/{counters[entry.source]}"


def record(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.post_id,
        "source": entry.source,
        "published_at": entry.when.isoformat(),
        "url": f"https://t.me/{entry.post_id}",
        "text": entry.text,
        "sample_story": entry.story,
    }


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_malformed(entry: Entry) -> str:
    """Serialize a malformed line; each fault breaks exactly one thing."""
    data = record(entry)
    builders: dict[str, Callable[[], str]] = {
        # Cut off mid-way through the text, as if the writer died: no closing quote or brace.
        "truncated": lambda: dumps(data)[: dumps(data).index('"text": "') + 40],
        "array": lambda: dumps([data]),
        "missing_text": lambda: dumps({k: v for k, v in data.items() if k != "text"}),
        "empty_text": lambda: dumps({**data, "text": ""}),
        "blank_text": lambda: dumps({**data, "text": " \n\t  \n"}),
        "missing_published_at": lambda: dumps({k: v for k, v in data.items() if k != "published_at"}),
        "bad_timestamp": lambda: dumps({**data, "published_at": "yesterday"}),
        "naive_timestamp": lambda: dumps({**data, "published_at": "2026-03-02T10:00:00"}),
        "numeric_text": lambda: dumps({**data, "text": 12345}),
        "duplicate_id": lambda: dumps(data),
        "english": lambda: dumps(data),
        "missing_id": lambda: dumps({k: v for k, v in data.items() if k != "id"}),  # the url stays
    }
    return builders[entry.fault]()


def build(seed: int = SEED) -> list[str]:
    """All lines of the sample, in stream order."""
    rng = random.Random(seed)
    seen: set[str] = set()
    posts: list[Entry] = []
    for story in STORIES:
        posts.extend(story_posts(rng, story, seen))
    posts.extend(noise_posts(rng, seen))
    bad = malformed_lines()
    deal_ids(rng, posts + bad)

    # The duplicate re-uses the id of the fire story's first post (a channel re-posting under an old id).
    original = min((post for post in posts if post.story == "tehran-mall-fire"), key=lambda post: post.when)
    for entry in bad:
        if entry.fault == "duplicate_id":
            entry.source, entry.post_id = original.source, original.post_id

    # Noise posts are numbered in stream order: noise-1, noise-2, ...
    noise = sorted(
        (post for post in posts if post.story == "noise"), key=lambda post: (post.when, post.post_id)
    )
    for number, post in enumerate(noise, start=1):
        post.story = f"noise-{number}"

    lines = [(post.when, post.post_id, dumps(record(post))) for post in posts]
    lines += [(entry.when, entry.post_id, render_malformed(entry)) for entry in bad]
    lines.sort(key=lambda line: (line[0], line[1]))
    return [line for _, _, line in lines]


def summary(lines: Sequence[str]) -> str:
    """Posts and channels per story, as a small table (malformed lines counted apart)."""
    posts: dict[str, list[str]] = {}
    malformed = 0
    for line in lines:
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or data.get("sample_story") == "malformed":
            malformed += 1
            continue
        key = data["sample_story"]
        posts.setdefault("noise" if key.startswith("noise-") else key, []).append(data["source"])
    rows = [f"{'story':34} {'posts':>5} {'sources':>7}  kind"]
    for story in STORIES:
        sources = posts[story.key]
        kind = "emerging" if story.emerging else "slow"
        rows.append(f"{story.key:34} {len(sources):5} {len(set(sources)):7}  {kind}")
    rows.append(f"{'noise (one story each)':34} {len(posts['noise']):5} {len(set(posts['noise'])):7}  noise")
    rows.append(f"{'malformed':34} {malformed:5}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write the JSON lines (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    output: Path = args.output
    lines = build(args.seed)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(line + "\n" for line in lines)
    print(f"wrote {len(lines)} lines to {output}")
    print(summary(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
