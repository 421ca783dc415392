"""Vectorised text for the raw files: ids, phones in many styles, money, dates, names.

Names also come as their variants (issue 19, records of one person that share no exact
identifier): pinyin in either order (``Zhang Wei``, ``Wei Zhang``), a one-character typo
(a homophone or a dropped character); e-mail variants that differ after lower-casing
(a dot in the local part, a ``+tag``); home addresses (city, district, street, number).

Everything is built with pyarrow compute on whole columns (no Python loop per row),
which is what keeps a 10-million-row export within seconds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PHONE_FORMATS = ("plain", "spaced", "plus86_dashed", "0086_plain", "plus86_compact")
DATE_FORMATS_CN = ("iso", "slash", "chinese")
SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("林", "lin"), ("罗", "luo"),
)
GIVEN = tuple("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红飞鑫浩宇轩梓涵欣怡晨博")
# pinyin (no tones) of every GIVEN character, and a homophone of it (the typo a clerk makes)
GIVEN_PINYIN = tuple(
    "wei fang na min jing li qiang lei jun yang yong yan jie juan tao ming chao xiu xia ping gang gui ying hua "
    "yu lan hong fei xin hao yu xuan zi han xin yi chen bo".split()
)
HOMOPHONES = tuple("玮方纳民晶莉蔷蕾君阳永燕洁鹃韬铭潮修侠萍钢贵莹桦钰岚虹菲新皓雨萱子晗心仪辰波")
# districts of every demo city (kit.demo.world.CITIES) for home addresses
DISTRICTS: dict[str, tuple[str, ...]] = {
    "北京": ("朝阳区", "海淀区", "东城区", "西城区", "丰台区"),
    "上海": ("浦东新区", "徐汇区", "静安区", "黄浦区", "闵行区"),
    "广州": ("天河区", "越秀区", "海珠区", "白云区", "番禺区"),
    "深圳": ("南山区", "福田区", "罗湖区", "宝安区", "龙岗区"),
    "杭州": ("西湖区", "上城区", "拱墅区", "滨江区", "余杭区"),
    "成都": ("锦江区", "青羊区", "武侯区", "成华区", "金牛区"),
    "武汉": ("江汉区", "武昌区", "洪山区", "江岸区", "汉阳区"),
    "南京": ("鼓楼区", "玄武区", "秦淮区", "建邺区", "江宁区"),
    "重庆": ("渝中区", "江北区", "南岸区", "沙坪坝区", "九龙坡区"),
    "西安": ("雁塔区", "碑林区", "新城区", "莲湖区", "未央区"),
    "苏州": ("姑苏区", "吴中区", "相城区", "虎丘区", "吴江区"),
    "天津": ("和平区", "河西区", "南开区", "河东区", "红桥区"),
    "佛山": ("禅城区", "南海区", "顺德区"),
    "东莞": ("南城街道", "东城街道", "虎门镇", "长安镇"),
    "无锡": ("梁溪区", "滨湖区", "新吴区", "锡山区"),
    "宁波": ("海曙区", "江北区", "鄞州区", "镇海区"),
    "合肥": ("蜀山区", "包河区", "庐阳区", "瑶海区"),
    "昆明": ("五华区", "盘龙区", "官渡区", "西山区"),
    "洛阳": ("西工区", "老城区", "涧西区", "洛龙区"),
    "赣州": ("章贡区", "南康区", "赣县区"),
    "遵义": ("红花岗区", "汇川区", "播州区"),
    "绵阳": ("涪城区", "游仙区", "安州区"),
    "桂林": ("秀峰区", "象山区", "七星区", "叠彩区"),
    "湛江": ("赤坎区", "霞山区", "麻章区", "坡头区"),
}
STREETS = ("人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "文化路", "胜利路", "长江路", "黄河路",
           "青年路", "光明路", "花园路", "学府路", "友谊路", "朝阳路", "文三路", "滨江路", "东风路", "幸福路")
EMAIL_TAGS = ("shop", "vip", "app", "2024")
MAIL_DOMAINS = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com", "foxmail.com")


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers``, e.g. ``M00012345``."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def labels(codes: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    """Text labels ``names[code]`` for integer codes (a fast take, no Python strings)."""
    return pc.take(pa.array(names, pa.string()), pa.array(np.asarray(codes, dtype=np.int64)))


def unique_numbers(rng: np.random.Generator, n: int, low: int, high: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """``n`` distinct random integers in [low, high), in random order."""
    found = np.empty(0, dtype=np.int64)
    while found.size < n:
        draw = rng.integers(low, high, size=int((n - found.size) * 1.2) + 16)
        found = np.unique(np.concatenate([found, draw]))
        if exclude is not None:
            found = np.setdiff1d(found, exclude)
    return rng.permutation(found)[:n]


def by_code(code: np.ndarray, builders: list[Callable[[np.ndarray], pa.Array]]) -> pa.Array:
    """Row i is ``builders[code[i]]`` applied to the rows with that code (code -1 = null)."""
    parts, positions = [], []
    for k, build in enumerate(builders):
        rows = np.flatnonzero(code == k)
        parts.append(build(rows))
        positions.append(rows)
    missing = np.flatnonzero(code < 0)
    parts.append(pa.nulls(missing.size, pa.string()))
    positions.append(missing)
    order = np.concatenate(positions)
    inverse = np.empty(order.size, dtype=np.int64)
    inverse[order] = np.arange(order.size)
    return pa.concat_arrays([p.cast(pa.string()) for p in parts]).take(pa.array(inverse))


def phones(numbers: np.ndarray, style: np.ndarray) -> pa.Array:
    """11-digit mobile numbers written in the style of ``style`` (index into PHONE_FORMATS, -1 blank)."""
    text = pc.cast(pa.array(numbers, pa.int64()), pa.string())

    def parts(rows: np.ndarray) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
        s = text.take(pa.array(rows, pa.int64()))
        return (
            s,
            pc.utf8_slice_codeunits(s, 0, 3),
            pc.utf8_slice_codeunits(s, 3, 7),
            pc.utf8_slice_codeunits(s, 7, 11),
        )

    def plain(rows):
        return parts(rows)[0]

    def spaced(rows):
        _, a, b, c = parts(rows)
        return pc.binary_join_element_wise(a, b, c, " ")

    def plus86_dashed(rows):
        _, a, b, c = parts(rows)
        return pc.binary_join_element_wise("+86 " , pc.binary_join_element_wise(a, b, c, "-"), "")

    def zero086(rows):
        return pc.binary_join_element_wise("0086 ", parts(rows)[0], "")

    def plus86_compact(rows):
        return pc.binary_join_element_wise("+86-", parts(rows)[0], "")

    return by_code(style, [plain, spaced, plus86_dashed, zero086, plus86_compact])


def money(values: np.ndarray) -> pa.Array:
    """Yuan amounts as text with two decimals (``128.50``, ``-3.05``)."""
    cents = np.round(np.abs(values) * 100).astype(np.int64)
    whole = pc.cast(pa.array(cents // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), width=2, padding="0")
    text = pc.binary_join_element_wise(whole, frac, ".")
    return pc.if_else(pa.array(values < 0), pc.binary_join_element_wise("-", text, ""), text)


TIME_STYLES = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d")


def timestamps(ts: np.ndarray, fmt: str) -> pa.Array:
    """datetime64 values as text in one of TIME_STYLES (strftime codes).

    Built by slicing the ISO text of a cast, because ``pc.strftime`` is about 20 times
    slower (6 s per million rows, measured), which would dominate a 1M-customer run.
    """
    iso = pc.cast(pa.array(ts.astype("datetime64[s]")), pa.string())  # 2026-05-23 02:59:50

    def cut(start: int, stop: int) -> pa.Array:
        return pc.utf8_slice_codeunits(iso, start, stop)

    if fmt == "%Y-%m-%d %H:%M:%S":
        return iso
    if fmt == "%Y-%m-%dT%H:%M:%S":
        return pc.binary_join_element_wise(cut(0, 10), cut(11, 19), "T")
    if fmt == "%Y-%m-%d %H:%M":
        return cut(0, 16)
    if fmt == "%d/%m/%Y %H:%M":
        date = pc.binary_join_element_wise(cut(8, 10), cut(5, 7), cut(0, 4), "/")
        return pc.binary_join_element_wise(date, cut(11, 16), " ")
    if fmt == "%Y-%m-%d":
        return cut(0, 10)
    raise ValueError(f"unsupported time style {fmt!r}; use one of {TIME_STYLES}")


def chinese_dates(ts: np.ndarray, style: np.ndarray) -> pa.Array:
    """Dates written ``1990-05-03``, ``1990/5/3`` or ``1990年5月3日`` per ``style`` (-1 blank)."""
    day = ts.astype("datetime64[D]")
    years = day.astype("datetime64[Y]").astype(int) + 1970
    months = day.astype("datetime64[M]").astype(int) % 12 + 1
    dom = (day - day.astype("datetime64[M]")).astype(int) + 1

    def text(values: np.ndarray, rows: np.ndarray) -> pa.Array:
        return pc.cast(pa.array(values[rows]), pa.string())

    def iso(rows):
        return timestamps(day[rows], "%Y-%m-%d")

    def slash(rows):
        return pc.binary_join_element_wise(text(years, rows), text(months, rows), text(dom, rows), "/")

    def chinese(rows):
        return pc.binary_join_element_wise(
            text(years, rows), "年", text(months, rows), "月", text(dom, rows), "日", ""
        )

    return by_code(style, [iso, slash, chinese])


def names(rng: np.random.Generator, n: int) -> tuple[pa.Array, np.ndarray]:
    """Chinese full names and the index of each surname (for e-mail pinyin)."""
    surname = rng.integers(0, len(SURNAMES), n)
    given = np.asarray(GIVEN)
    first = given[rng.integers(0, len(given), n)]
    second = np.where(rng.random(n) < 0.7, given[rng.integers(0, len(given), n)], "")
    family = np.asarray([s for s, _ in SURNAMES])[surname]
    return pc.binary_join_element_wise(pa.array(family), pa.array(first), pa.array(second), ""), surname


def emails(rng: np.random.Generator, surname: np.ndarray, serial: np.ndarray) -> pa.Array:
    """Distinct canonical e-mails (``serial`` must be distinct): pinyin+number or QQ number."""
    n = surname.size
    domain = rng.integers(0, len(MAIL_DOMAINS), n)
    pinyin = pa.array(np.asarray([p for _, p in SURNAMES])[surname])
    number = pc.cast(pa.array(serial), pa.string())
    local = pc.if_else(pa.array(domain == 0), number, pc.binary_join_element_wise(pinyin, number, ""))
    return pc.binary_join_element_wise(local, pa.array(np.asarray(MAIL_DOMAINS)[domain]), "@")


def messy_emails(canonical: pa.Array, style: np.ndarray) -> pa.Array:
    """E-mails as typed: 0 as is, 1 upper case, 2 capitalised, 3 padded with spaces, 4 both."""
    return by_code(
        style,
        [
            lambda rows: canonical.take(pa.array(rows, pa.int64())),
            lambda rows: pc.utf8_upper(canonical.take(pa.array(rows, pa.int64()))),
            lambda rows: pc.utf8_capitalize(canonical.take(pa.array(rows, pa.int64()))),
            lambda rows: pc.binary_join_element_wise(" ", canonical.take(pa.array(rows, pa.int64())), "  ", ""),
            lambda rows: pc.binary_join_element_wise(
                "  ", pc.utf8_upper(canonical.take(pa.array(rows, pa.int64()))), " ", ""
            ),
        ],
    )


def _chars(name: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Surname, first and second given character of every name (second may be ``""``)."""
    return tuple(pc.utf8_slice_codeunits(name, k, k + 1) for k in range(3))


def _lookup(chars: pa.Array, keys: tuple[str, ...], values: tuple[str, ...]) -> pa.Array:
    """``values[keys.index(c)]`` for every character (null for ``""`` or an unknown one)."""
    where = pc.index_in(chars, value_set=pa.array(keys, pa.string()))
    return pa.array(values, pa.string()).take(where)


def pinyin_names(name: pa.Array, given_first: bool = False) -> pa.Array:
    """Hanzi names of names() in pinyin: ``Zhang Wei`` / ``Zhang Xinyi``, or ``Wei Zhang`` given first."""
    surname, g1, g2 = _chars(name)
    family = pc.utf8_capitalize(_lookup(surname, tuple(h for h, _ in SURNAMES), tuple(p for _, p in SURNAMES)))
    given = pc.binary_join_element_wise(
        _lookup(g1, GIVEN, GIVEN_PINYIN), pc.fill_null(_lookup(g2, GIVEN, GIVEN_PINYIN), ""), ""
    )
    given = pc.utf8_capitalize(given)
    return pc.binary_join_element_wise(given, family, " ") if given_first else pc.binary_join_element_wise(family, given, " ")


def typo_names(rng: np.random.Generator, name: pa.Array) -> pa.Array:
    """Every name with one character wrong: a given character replaced by its homophone
    (王伟 -> 王玮), or, in three-character names, a given character dropped (40% of those)."""
    n = len(name)
    surname, g1, g2 = _chars(name)
    three = pc.not_equal(g2, "").to_numpy(zero_copy_only=False)
    second = three & (rng.random(n) < 0.5)  # which given character the typo hits
    drop = three & (rng.random(n) < 0.4)
    h1, h2 = _lookup(g1, GIVEN, HOMOPHONES), _lookup(g2, GIVEN, HOMOPHONES)
    first_char = pc.if_else(pa.array(second | drop), g1, h1)
    second_char = pc.if_else(pa.array(second & ~drop), h2, g2)
    kept = pc.if_else(pa.array(drop & second), "", second_char)  # drop the second character
    first_char = pc.if_else(pa.array(drop & ~second), "", first_char)  # or the first
    return pc.binary_join_element_wise(surname, first_char, kept, "")


def email_variants(rng: np.random.Generator, email: pa.Array) -> pa.Array:
    """Each canonical e-mail as another address of the same person, still lower case: a dot
    between the pinyin and the number (``zhang.10007@163.com``) or a ``+tag``
    (``zhang10007+shop@163.com``; the only form for number-only QQ addresses). Distinct
    e-mails give distinct variants, and no variant is a canonical e-mail (those hold no
    dot or plus in the local part), so a variant matches no record exactly."""
    n = len(email)
    letters = pc.fill_null(pc.match_substring_regex(email, "^[a-z]"), False).to_numpy(zero_copy_only=False)
    code = np.where(letters & (rng.random(n) < 0.5), len(EMAIL_TAGS), rng.integers(0, len(EMAIL_TAGS), n))

    def tag(k: int) -> Callable[[np.ndarray], pa.Array]:
        return lambda rows: pc.replace_substring(email.take(pa.array(rows, pa.int64())), "@", f"+{EMAIL_TAGS[k]}@",
                                                 max_replacements=1)

    def dot(rows: np.ndarray) -> pa.Array:
        return pc.replace_substring_regex(email.take(pa.array(rows, pa.int64())), r"^([a-z]+)([0-9]+)@", r"\1.\2@")

    return by_code(code, [tag(k) for k in range(len(EMAIL_TAGS))] + [dot])


def addresses(rng: np.random.Generator, city: np.ndarray) -> pa.Array:
    """A home address in each city (names of DISTRICTS), e.g. ``杭州市西湖区文三路123号``."""
    n = city.size
    cities = tuple(DISTRICTS)
    found = pc.index_in(pa.array(city, pa.string()), value_set=pa.array(cities))
    if found.null_count:
        raise ValueError("a city without districts in text.DISTRICTS")
    code = found.to_numpy().astype(np.int64)
    sizes = np.asarray([len(DISTRICTS[c]) for c in cities])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    places = tuple(f"{c}市{d}" for c in cities for d in DISTRICTS[c])
    district = offsets[code] + (rng.random(n) * sizes[code]).astype(np.int64)
    street = rng.integers(0, len(STREETS), n)
    number = pc.cast(pa.array(rng.integers(1, 400, n)), pa.string())
    return pc.binary_join_element_wise(labels(district, places), labels(street, STREETS), number, "号", "")


def swap_day_month(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dates with day and month swapped (1990-05-03 -> 1990-03-05) and where that changes
    the date (day <= 12 and day != month); other dates are returned as they are."""
    day = np.asarray(days).astype("datetime64[D]")
    month_start = day.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    dom = (day - month_start).astype(np.int64) + 1
    ok = (dom <= 12) & (dom != month)
    year_start = day.astype("datetime64[Y]").astype("datetime64[M]")
    swapped = (year_start + np.where(ok, dom, month) - 1).astype("datetime64[D]") + (np.where(ok, month, dom) - 1)
    return swapped, ok
