"""Fill django_xunchen's zh_Hans catalogue from the table below (run after makemessages).

Usage: python scripts/translate_zh.py  — then compilemessages. Fails listing any msgid
that has no translation, so a new string cannot ship untranslated.
"""

import re
import sys
from pathlib import Path

PO = Path(__file__).resolve().parent.parent / "django_xunchen/locale/zh_Hans/LC_MESSAGES/django.po"

ZH = {
    "never came (the gateway's day ended)": "不会再来（网关当日已结束）",
    "The gateway's day on which it went out has ended without a delivery report; none will come any more.": "发出当日（网关按北京时间计）已结束，仍未收到状态报告；之后也不会再有。",
    "no report": "无报告",
    "Retry ingesting set-aside entries": "重新入库已搁置的条目",
    "%(count)d entry will be ingested again by the next poll.": "下次拉取时将重新入库 %(count)d 条。",
    "No %(what)s have ever been fetched: is poll_sms running?": "从未成功拉取过%(what)s：poll_sms 在运行吗？",
    "The last successful fetch of %(what)s was %(minutes)d minutes ago: is poll_sms running? The gateway keeps reports only until midnight (China Standard Time).": "上次成功拉取%(what)s是在 %(minutes)d 分钟前：poll_sms 在运行吗？网关只保留状态报告到当天午夜（北京时间）。",
    "truncated": "已截断",
    "A field was longer than its column and was cut; the journal entry keeps the full record.": "某字段超过列长度已被截断；拉取日志保存完整记录。",
    "salvaged": "已抢救",
    "set aside": "已搁置",
    "complete": "完整",
    "False when the answer broke off: the body holds every byte that came.": "应答中途断开时为否：正文保存已收到的全部字节。",
    "last successful fetch": "上次成功拉取",
    "last attempt": "上次尝试",
    "poll state": "拉取状态",
    "poll states": "拉取状态",
    "No report any more": "不会再有报告",
    "Sent, but the gateway's day on which they went out has ended without a delivery report.": "已发送，但发出当日（网关按北京时间计）已结束，仍未收到状态报告。",
    "%(count)d poll journal entry could not be ingested and was set aside.": "%(count)d 条拉取日志无法入库，已被搁置。",
    "%(count)d send outcome waits in the spool on this host.": "本机暂存区中有 %(count)d 个发送结果等待写入。",
    "Polling needs attention.": "拉取需要处理。",
    "delivery reports": "状态报告",
    "replies": "上行回复",
    "resend": "重发",
    "resent as": "重发为",
    "created": "创建时间",
    "reported": "报告时间",
    "Exact mobile number or msgid, or words of the content.": "完整手机号或消息ID，或内容中的文字。",
    "Gateway": "网关",
    "Times": "时间",
    "Resend chain": "重发链",
    "content": "内容",
    "status": "状态",
    "gateway error": "网关错误",
    "no answer": "无应答",
    "resent from": "重发自",
    "Send SMS": "发送短信",
    "%(count)d message created (%(summary)s).": "已创建 %(count)d 条短信（%(summary)s）。",
    "Gateway balance": "网关余额",
    "Delivery dashboard": "送达统计",
    "Resend selected messages": "重发所选短信",
    "Resend messages?": "重发短信？",
    "Check balance": "查询余额",
    "messages sent": "已发短信",
    "placeholders": "变量",
    "None. Write @1@, @2@, … where the values go.": "无。请在需要填值处写 @1@、@2@ ……",
    "preview": "预览",
    "value": "值",
    "matched": "已匹配",
    "matched to a message": "已匹配短信",
    "orphan": "未匹配",
    "received": "接收时间",
    "message": "短信",
    "last error": "最近错误",
    "raw response": "原始响应",
    "delivery rate": "送达率",
    "Messages per day": "每日短信数",
    "Line %(line)d: write each parameter as N=value, e.g. 1=张三.": "第 %(line)d 行：每个参数写作 N=值，例如 1=张三。",
    "Mobile numbers": "手机号码",
    "One per line, or separated by commas. +86 and spaces are fine.": "每行一个，或用逗号分隔。可带 +86 和空格。",
    "Template": "模板",
    "Leave empty to send the content below as a normal message.": "留空则把下面的内容作为普通短信发送。",
    "Template parameters": "模板变量",
    "One per line: 1=张三 fills @1@.": "每行一个：1=张三 填入 @1@。",
    "Content": "内容",
    "At most 300 characters. Not used with a template.": "最多 300 字。使用模板时不填。",
    "Extcode": "扩展码",
    "Optional: 1 to 4 digits appended to the sender number.": "可选：附加在发送号码后的 1 至 4 位数字。",
    "Scheduled for": "定时发送",
    "Optional: the gateway holds the message until then.": "可选：网关将在该时间发出。",
    "Give either content or a template, not both.": "内容和模板只能二选一。",
    "Write the content, or choose a template.": "请填写内容，或选择模板。",
    "Not a mainland China mobile number: %(number)s": "不是中国大陆手机号码：%(number)s",
    "Xunchen SMS": "迅辰短信",
    "vendor template id": "模板编号",
    "The id the vendor gave the template, e.g. JSM40001-0001.": "服务商分配的模板编号，例如 JSM40001-0001。",
    "name": "名称",
    "body": "模板内容",
    "The text exactly as registered at the vendor, with numbered placeholders: @1@, @2@, …": "与服务商报备完全一致的文字，变量写作 @1@、@2@ ……",
    "active": "启用",
    "updated": "更新时间",
    "template": "模板",
    "templates": "模板",
    "The body is blank.": "模板内容为空。",
    "queued": "排队中",
    "sending": "发送中",
    "sent": "已提交",
    "delivered": "已送达",
    "undelivered": "未送达",
    "failed": "失败",
    "unknown": "结果未知",
    "expired": "已过期",
    "mobile": "手机号码",
    "For a template message, the rendered text.": "模板短信为填入变量后的文字。",
    "template parameters": "模板变量",
    "extcode": "扩展码",
    "scheduled for": "定时发送",
    "expires at": "过期时间",
    "msgid": "消息ID",
    "The gateway's id, shared by every number submitted in one request.": "网关返回的消息ID，同一次提交的所有号码共用。",
    "gateway error code": "网关错误码",
    "blocked words": "敏感词",
    "report status": "状态报告码",
    "The operator's delivery code, e.g. DELIVRD or MA:0006.": "运营商状态码，例如 DELIVRD 或 MA:0006。",
    "batch": "批次",
    "Messages created by one send call.": "同一次发送创建的短信。",
    "attempts": "尝试次数",
    "submitted": "提交时间",
    "messages": "短信",
    "Can send SMS from the admin": "可以在后台发送短信",
    "Can resend messages": "可以重发短信",
    "Can check the gateway balance": "可以查询网关余额",
    "Can view the delivery dashboard": "可以查看送达统计",
    "extno": "扩展号",
    "delivery report": "状态报告",
    "received on": "接收号码",
    "stored": "入库时间",
    "reply": "上行回复",
    "pending": "待处理",
    "done": "已完成",
    "operation": "操作",
    "fetched": "获取时间",
    "state": "状态",
    "ingest attempts": "处理次数",
    "records": "记录数",
    "ingested": "处理时间",
    "poll journal entry": "拉取日志",
    "poll journal": "拉取日志",
    "poll lock": "拉取锁",
    "poll locks": "拉取锁",
    "Home": "首页",
    "Balance: %(amount)s": "余额：%(amount)s",
    "Enough for %(count)s message.": "可发送 %(count)s 条短信。",
    "The balance could not be fetched:": "无法获取余额：",
    "Back to the messages": "返回短信列表",
    "Last 30 days": "最近 30 天",
    "Delivery rate": "送达率",
    "Balance": "余额",
    "%(count)s message": "%(count)s 条短信",
    "Day": "日期",
    "%(count)s message will be sent again, to %(numbers)s number(s).": "将重发 %(count)s 条短信，共 %(numbers)s 个号码。",
    "%(count)s selected message will be skipped: it is still queued or sending, or its "
    "template is inactive.": "将跳过 %(count)s 条所选短信：仍在排队或发送中，或模板已停用。",
    "Yes, resend": "确认重发",
    "No, take me back": "不，返回",
    "Please correct the errors below.": "请修正下面的错误。",
    "Send": "发送",
    "Resent %(created)d messages; %(skipped)d skipped (still queued or sending, or the "
    "template is inactive); %(refused)d refused or with unknown outcome.": "已重发 %(created)d 条；跳过 %(skipped)d 条（仍在排队或发送中，或模板已停用）；"
    "%(refused)d 条被拒绝或结果未知。",
    "account": "账户",
    "tag": "标签",
    "Channel": "通道",
    "Kind": "类型",
    "It decides the account the message goes out on, by the site's routes.": "按本站的路由决定短信从哪个账户发出。",
    "Account": "账户",
    "Leave empty to use the account the kind is routed to.": "留空则使用该类型路由到的账户。",
    "The templates of the chosen account. Leave empty to send the content below as a normal message.": "所选账户的模板。留空则把下面的内容作为普通短信发送。",
    "By kind (routes)": "按类型（路由）",
    "This template belongs to account %(theirs)s; the message goes out on %(ours)s.": "该模板属于账户 %(theirs)s；这条短信将从 %(ours)s 发出。",
    "Vendor template ids belong to one gateway account.": "供应商模板ID只属于一个网关账户。",
    "%(what)s of account %(account)s": "账户 %(account)s 的%(what)s",
    "The name of the gateway account in XUNCHEN['ACCOUNTS'].": "XUNCHEN['ACCOUNTS'] 中网关账户的名称。",
    "verification": "验证码",
    "notification": "通知",
    "marketing": "营销",
    "kind": "类型",
    "tags": "标签",
    "Labels the sending code gave it, to filter on.": "发送代码给它加的标签，可用于筛选。",
    "metadata": "元数据",
    "Free data the sending code attached, passed on to signals.": "发送代码附加的任意数据，会传给信号。",
    "Account %(account)s": "账户 %(account)s",
    "All accounts": "全部账户",
    "All kinds": "全部类型",
    "Show": "显示",
    "Balance of %(account)s": "%(account)s 的余额",
    "Exact mobile number.": "完整手机号。",
    "last message": "最近一条短信",
    "time": "时间",
    "Exact mobile number, IP address or number prefix.": "完整手机号、IP 地址或号段。",
    "Lift the throttles of the selected numbers": "解除所选号码的限流",
    "Lifted the throttles of %(numbers)d number (%(events)d requests no longer count).": "已解除 %(numbers)d 个号码的限流（%(events)d 次请求不再计数）。",
    "Enter a mainland China mobile number.": "请输入中国大陆手机号。",
    "Mobile number": "手机号",
    "Enter the %(length)d digits of the code.": "请输入 %(length)d 位验证码。",
    "Verification code": "验证码",
    "The code is wrong.": "验证码错误。",
    "The code has expired. Ask for a new one.": "验证码已过期，请重新获取。",
    "Too many wrong attempts. Ask for a new code.": "错误次数过多，请重新获取验证码。",
    "Ask for a code first.": "请先获取验证码。",
    "masked": "已遮盖",
    "The stored text has a verification code masked out: the message went out from memory and is never sent again from this row.": "保存的文本已遮盖验证码：短信从内存发出，绝不会从这条记录再次发送。",
    "verified": "已验证",
    "too many attempts": "错误次数过多",
    "replaced": "已替换",
    "not sent": "未发出",
    "purpose": "用途",
    "wrong attempts": "错误次数",
    "attempts allowed": "允许次数",
    "times sent": "发送次数",
    "client IP": "客户端 IP",
    "last sent": "最近发送",
    "verification code": "验证码",
    "verification codes": "验证码",
    "throttle bucket": "限流桶",
    "throttle buckets": "限流桶",
    "throttled": "已限流",
    "resend cooldown": "重发冷却",
    "hourly limit per number": "每号码每小时上限",
    "daily limit per number": "每号码每日上限",
    "hourly limit per IP": "每 IP 每小时上限",
    "number prefix surge": "号段激增",
    "daily volume": "每日总量",
    "prefix": "号段",
    "outcome": "结果",
    "reason": "原因",
    "lifted": "已解除",
    "Staff lifted the throttle: it no longer counts.": "管理员已解除限流：不再计数。",
    "throttle event": "限流记录",
    "throttle events": "限流记录",
    "Verification code volume alarm.": "验证码发送量告警。",
    "%(volume)d code SMS were sent today, at or above the alarm level of %(threshold)d: someone may be pumping SMS through the site.": "今天已发送 %(volume)d 条验证码短信，达到或超过告警线 %(threshold)d：可能有人在利用本站刷短信。",
    "See the throttle events": "查看限流记录",
    "opt-out footer": "退订提示",
    "At most 300 characters. Marketing gets the opt-out footer (回T退订) if it has none. Leave empty when you choose a template.": "最多 300 个字符。营销短信若没有退订提示，会自动加上“回T退订”。选择模板时请留空。",
    "+86, spaces and dashes are fine.": "可以带 +86、空格和短横线。",
    "File": "文件",
    "CSV (UTF-8 or GBK) or XLSX; the first column holds the numbers.": "CSV（UTF-8 或 GBK）或 XLSX；第一列为手机号。",
    "scope": "范围",
    "since": "起始时间",
    "Install django-xunchen[spreadsheets] to import files.": "请安装 django-xunchen[spreadsheets] 以导入文件。",
    "%(count)d number added to the suppression list.": "已将 %(count)d 个号码加入屏蔽名单。",
    "Not numbers, skipped: %(rows)s": "不是手机号，已跳过：%(rows)s",
    "Import numbers to suppress": "导入屏蔽号码",
    "Install django-xunchen[spreadsheets] to export.": "请安装 django-xunchen[spreadsheets] 以导出。",
    "Export the selected numbers as CSV": "将所选号码导出为 CSV",
    "Export the selected numbers as XLSX": "将所选号码导出为 XLSX",
    "Words": "敏感词",
    "One per line.": "每行一个。",
    "%(count)d word added.": "已添加 %(count)d 个敏感词。",
    "Import blocked words": "导入敏感词",
    "Disable the selected words": "停用所选敏感词",
    "Enable the selected words": "启用所选敏感词",
    "suppressed": "已屏蔽",
    "parts": "计费条数",
    "Billable parts, the signature included, by the account's rule.": "按账户规则计算的计费条数（含签名）。",
    "held until": "暂缓至",
    "Held here, not at the gateway, until then (quiet hours): a later opt-out or cancel still applies.": "在本地暂缓到该时间（免打扰时段），而不是交给网关定时：之后的退订或取消仍然有效。",
    "marketing only": "仅营销短信",
    "everything but verification codes": "除验证码外的全部短信",
    "reply keyword": "回复关键词",
    "staff": "管理员",
    "import": "导入",
    "bounces": "多次未送达",
    "source": "来源",
    "cause": "原因",
    "The reply, the delivery status of the bounces, or a note.": "回复内容、未送达的状态码，或备注。",
    "suppressed number": "屏蔽号码",
    "suppression list": "屏蔽名单",
    "word": "敏感词",
    "learned from": "来自短信",
    "blocked word": "敏感词",
    "Import a list": "导入列表",
    "Spend per day": "每日花费",
    "Total": "合计",
    "Nothing billed in the last 30 days.": "最近 30 天没有计费。",
    "Before you send": "发送前确认",
    "The gateway refused these words before:": "网关曾拒绝过这些词：",
    "Characters (signature included)": "字数（含签名）",
    "Parts per message": "每条计费条数",
    "Numbers": "号码数",
    "Parts in all": "总计费条数",
    "Cost": "费用",
    "Balance after the send": "发送后余额",
    "Import CSV or XLSX": "导入 CSV 或 XLSX",
    "Import": "导入",
}

ENTRY = re.compile(r"\n\n(?=(?:#.*\n)*(?:msgctxt|msgid) )")


def unquote(lines):
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', "\n".join(lines))).replace('\\"', '"')


def quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main() -> int:
    text = PO.read_text(encoding="utf-8")
    text = text.replace(
        '"Plural-Forms: nplurals=INTEGER; plural=EXPRESSION;\\n"',
        '"Plural-Forms: nplurals=1; plural=0;\\n"',
    )
    text = text.replace('"Language: \\n"', '"Language: zh_Hans\\n"')
    text = text.replace('#, fuzzy\nmsgid ""\nmsgstr ""', 'msgid ""\nmsgstr ""', 1)
    for placeholder, real in [
        ("# SOME DESCRIPTIVE TITLE.", "# Chinese (Simplified) translation of django-xunchen."),
        ("YEAR THE PACKAGE'S COPYRIGHT HOLDER", "2026 django-xunchen contributors"),
        ("the PACKAGE package", "the django-xunchen package"),
        ("# FIRST AUTHOR <EMAIL@ADDRESS>, YEAR.\n", ""),
        ("Project-Id-Version: PACKAGE VERSION", "Project-Id-Version: django-xunchen"),
    ]:
        text = text.replace(placeholder, real)
    blocks = ENTRY.split(text)
    missing, out = [], [blocks[0]]
    for block in blocks[1:]:
        lines = block.split("\n")
        msgid_lines = _section(lines, "msgid ")
        msgid = unquote(msgid_lines)
        plural = any(ln.startswith("msgid_plural") for ln in lines)
        zh = ZH.get(msgid)
        if zh is None:
            missing.append(msgid)
            out.append(block)
            continue
        head = [ln for ln in _before_msgstr(lines) if ln != "#, fuzzy"]
        head = [ln.replace("#, fuzzy, ", "#, ") for ln in head]
        if plural:
            head.append(f"msgstr[0] {quote(zh)}")
        else:
            head.append(f"msgstr {quote(zh)}")
        out.append("\n".join(head) + ("\n" if block.endswith("\n") else ""))
    PO.write_text("\n\n".join(out), encoding="utf-8")
    if missing:
        print("untranslated:", *missing, sep="\n  ", file=sys.stderr)
        return 1
    return 0


def _section(lines, start):
    result, on = [], False
    for ln in lines:
        if ln.startswith(start):
            on = True
            result.append(ln[len(start) :])
        elif on and ln.startswith('"'):
            result.append(ln)
        elif on:
            break
    return result


def _before_msgstr(lines):
    result = []
    for ln in lines:
        if ln.startswith("msgstr"):
            break
        result.append(ln)
    return result


if __name__ == "__main__":
    sys.exit(main())
