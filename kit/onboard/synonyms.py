"""Which canonical column a raw header names, in English and Chinese.

A company's export rarely uses the kit's column names: ``会员编号``, ``Member No`` and
``member_id`` all name the member number. ``concept(header)`` compares a normalised
header (Unicode NFKC, lower case, spaces, underscores and punctuation removed) with the
synonyms below and returns the concept it names and how specific the match is (the
rank: lower is more specific, so ``实付金额`` beats ``金额`` when a file has both).

A concept is a canonical column of some kind (``kit.ingest.kinds.KINDS``), an identity
key column that is not canonical for every kind (``customer_no``: a customer number,
declared as a custom key), or one of the kind-relative roles ``MAIN_TS`` (the kind's main
timestamp: ``日期`` / ``date``) and ``CHANNEL`` (sign-up channel of a member, platform of
an order). ``column_for(concept, kind)`` resolves the roles.
"""

from __future__ import annotations

import re
import unicodedata

from kit.ingest.kinds import MAIN_TS

MAIN_TS_ROLE = "<main_ts>"
CHANNEL_ROLE = "<channel>"
# the custom key a customer number becomes (an order log's "Customer ID", a CRM's 客户编号)
CUSTOMER_KEY = "customer_no"

# concept -> synonyms, most specific first within a concept. Canonical names match themselves.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "member_id": ("会员编号", "会员号", "会员id", "会员卡号", "会员卡", "会员账号", "member id", "member no",
                  "member number", "membership id", "membership no", "member code", "member"),
    CUSTOMER_KEY: ("客户编号", "客户号", "客户id", "客户代码", "顾客编号", "顾客id", "customer id", "customer no",
                   "customer number", "customer code", "cust id", "client id", "buyer id", "customer", "client"),
    "shop_user_id": ("商城用户id", "店铺用户id", "网店用户id", "买家id", "shop user id", "shop user", "account id",
                     "shop account"),
    "app_user_id": ("app用户id", "app用户", "用户id", "用户编号", "app user id", "app user", "user id", "userid",
                    "uid", "user"),
    "phone": ("手机号", "手机号码", "手机", "联系电话", "电话号码", "电话", "mobile", "mobile no", "mobile number",
              "phone", "phone number", "telephone", "tel", "cellphone", "cell"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "邮件", "email", "e mail", "email address", "mail"),
    "name": ("姓名", "名字", "客户姓名", "会员姓名", "真实姓名", "收货人", "收件人", "收货人姓名", "name", "full name",
             "customer name", "member name", "real name", "receiver name", "recipient name", "consignee", "first name",
             "given name", "last name", "surname", "family name", "姓", "名"),
    "address": ("地址", "收货地址", "详细地址", "联系地址", "家庭地址", "address", "receiver address",
                "shipping address", "delivery address", "street address"),
    "gender": ("性别", "gender", "sex"),
    "birth_date": ("出生日期", "生日", "出生年月", "birth date", "birthday", "date of birth", "dob"),
    "city": ("城市", "所在城市", "居住城市", "收货城市", "city", "receiver city", "shipping city"),
    "registered_at": ("注册日期", "注册时间", "入会日期", "入会时间", "开卡日期", "registered at", "registration date",
                      "registered", "signup date", "sign up date", "join date", "joined at", "joined"),
    "signup_channel": ("注册渠道", "入会渠道", "注册来源", "来源渠道", "开卡渠道", "signup channel", "sign up channel", "acquisition channel"),
    "order_id": ("订单号", "订单编号", "订单id", "小票号", "小票编号", "交易单号", "流水号", "单号", "order id",
                 "order no", "order number", "invoice no", "invoice number", "invoice", "receipt id", "receipt no",
                 "receipt", "transaction id", "txn id"),
    "order_ts": ("下单时间", "订单时间", "下单日期", "订单日期", "支付时间", "付款时间", "交易时间", "交易日期",
                 "成交时间", "消费时间", "order time", "order date", "ordered at", "invoice date", "purchase date",
                 "purchase time", "transaction date", "transaction time", "paid at", "payment time", "sale date"),
    "amount": ("实付金额", "支付金额", "付款金额", "实收金额", "订单金额", "成交金额", "交易金额", "消费金额", "实付",
               "金额", "paid amount", "amount paid", "order amount", "order total", "total amount", "sales amount",
               "amount", "total", "revenue", "sales", "spend"),
    "discount": ("优惠金额", "折扣金额", "优惠", "折扣", "discount", "discount amount", "coupon amount"),
    "category": ("商品品类", "商品类别", "商品分类", "品类", "类目", "分类", "category", "product category",
                 "product type", "item category", "product group"),
    "items": ("商品件数", "购买数量", "件数", "数量", "items", "item count", "quantity", "qty"),
    "payment_method": ("支付方式", "付款方式", "payment method", "payment type", "pay method", "payment"),
    "status": ("订单状态", "支付状态", "状态", "status", "order status", "financial status", "payment status"),
    "store_city": ("门店城市", "store city", "shop city"),
    "event_ts": ("事件时间", "行为时间", "发生时间", "event time", "event date", "event timestamp"),
    "event_type": ("事件类型", "事件名称", "行为类型", "事件", "行为", "event type", "event name", "event",
                   "action", "activity"),
    "response_id": ("问卷编号", "答卷编号", "回复编号", "response id", "answer id", "response"),
    "survey_ts": ("提交时间", "填写时间", "答卷时间", "submitted at", "submit time", "survey date", "response date",
                  "submitted"),
    "nps": ("nps", "nps score", "推荐意愿", "推荐值", "likelihood to recommend"),
    "csat": ("csat", "csat score", "满意度", "satisfaction"),
    "experiment_id": ("实验编号", "实验id", "实验", "experiment id", "experiment", "test id"),
    "unit_type": ("单元类型", "unit type"),
    "unit_id": ("单元编号", "单元id", "unit id"),
    "variant": ("实验分组", "分组", "实验组", "variant", "group", "arm", "bucket"),
    "assigned_ts": ("分组时间", "进组时间", "assigned at", "assignment time", "assigned time", "assigned"),
    MAIN_TS_ROLE: ("日期", "时间", "创建时间", "date", "time", "datetime", "timestamp", "created at", "created", "ts"),
    CHANNEL_ROLE: ("渠道", "平台", "channel", "platform", "source"),
}

# a file-name word -> the kind it suggests (a tie-break between kinds the headers fit equally)
FILE_HINTS: dict[str, str] = {
    "crm": "customers", "member": "customers", "members": "customers", "customer": "customers",
    "customers": "customers", "会员": "customers", "客户": "customers",
    "order": "orders", "orders": "orders", "transaction": "orders", "transactions": "orders", "sales": "orders",
    "invoice": "orders", "receipt": "orders", "pos": "orders", "shop": "orders", "订单": "orders", "交易": "orders",
    "event": "events", "events": "events", "click": "events", "log": "events", "行为": "events", "埋点": "events",
    "survey": "surveys", "surveys": "surveys", "nps": "surveys", "问卷": "surveys",
    "assignment": "assignments", "assignments": "assignments", "experiment": "assignments", "实验": "assignments",
    "app": "app_users", "users": "app_users", "用户": "app_users",
}


def normalise(header: str) -> str:
    """A header reduced for comparison: NFKC, lower case, no spaces, underscores or punctuation."""
    text = unicodedata.normalize("NFKC", str(header)).strip().lower()
    return re.sub(r"[\s_\-./()\[\]:#'\"]+", "", text)


def _index() -> dict[str, tuple[str, int]]:
    """normalised synonym -> (concept, rank); the first concept listing a synonym keeps it."""
    index: dict[str, tuple[str, int]] = {}
    for concept, words in SYNONYMS.items():
        if not concept.startswith("<"):
            index.setdefault(normalise(concept), (concept, 0))
        for rank, word in enumerate(words):
            index.setdefault(normalise(word), (concept, rank))
    return index


INDEX = _index()


def concept(header: str) -> tuple[str, int] | None:
    """The concept a header names and the rank of the synonym matched, or None."""
    return INDEX.get(normalise(header))


def column_for(concept_name: str, kind: str) -> str:
    """The column a concept becomes in a source of ``kind`` (resolves the kind-relative roles)."""
    if concept_name == MAIN_TS_ROLE:
        return MAIN_TS[kind]
    if concept_name == CHANNEL_ROLE:
        return "signup_channel" if kind == "customers" else "platform"
    return concept_name


def kind_hints(stem: str) -> set[str]:
    """The kinds a file name suggests (``crm_members`` -> customers)."""
    words = set(re.split(r"[^0-9a-z\u4e00-\u9fff]+", stem.lower()))
    found = {kind for word, kind in FILE_HINTS.items() if word in words}
    found |= {kind for word, kind in FILE_HINTS.items() if not word.isascii() and word in stem}
    return found
