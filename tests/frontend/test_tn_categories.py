"""Text normalization by category, written for this project from the house conventions
(frontend_svc/CONVENTIONS.md), not copied from the tn_dev/tn_heldout suites; includes the
bugs of issue 17 (￥...元 doubled, 400-800-8888, 12:00:30, COVID-19)."""

from __future__ import annotations

import re

import pytest

CASES = {
    "money": [
        ("￥1,234.56元", "一千二百三十四点五六元"),  # issue 17: was ...元元
        ("¥5", "五元"),
        ("$5美元", "五美元"),
        ("价格是¥1,299元", "价格是一千二百九十九元"),
        ("€50欧元", "五十欧元"),
        ("花了$3.5亿", "花了三点五亿美元"),
        ("营收达$1.5 billion", "营收达十五亿美元"),  # English places become 万/亿
        ("融资300 million美元", "融资三亿美元"),
        ("市值1 trillion", "市值一万亿"),
        ("约7.5 thousand人", "约七千五百人"),
        ("2.5bn欧元", "二十五亿欧元"),
        ("￥99.00", "九十九元"),
        ("$8000~9000", "八千到九千美元"),  # one currency word, after the range
        ("€730-40", "七百三十到四十欧元"),  # the dash is no minus
        ("¥100-¥200", "一百到两百元"),
        ("JPY¥1000", "一千日元"),  # the code and the sign are one currency
        ("CAD3", "三加元"),
        ("usd 5", "五美元"),
        ("ARM5", "ARM五"),  # a code inside a word is no currency
        ("￡1", "一英镑"),
        ("₹1.5万", "一点五万印度卢比"),
        ("$5美金", "五美金"),  # any currency word written after counts
        ("¥5港币", "五港币"),
    ],
    "service_number": [
        ("10086", "幺零零八六"),
        ("打12306订票", "打幺二三零六订票"),
        ("120急救中心", "幺二零急救中心"),
        ("打120", "打幺二零"),
        ("考了120", "考了一百二十"),  # a bare emergency number may be a count
        ("有120个", "有一百二十个"),
        ("第110", "第一百一十"),
    ],
    "spaced_letters": [
        ("我们已经加入了w t o", "我们已经加入了WTO"),
        ("看C C t v节目", "看CCTV节目"),
        ("I am a boy", "I am a boy"),  # no Chinese around: English
    ],
    "everyday_forms": [
        ("90年代", "九十年代"),
        ("上世纪80年代", "上世纪八十年代"),
        ("90后", "九零后"),
        ("1080P", "一零八零P"),
        ("1st", "第一"),
        ("5.1劳动节", "五一劳动节"),
        ("3.15晚会", "三一五晚会"),
        ("618大促", "六一八大促"),
        ("3.5节课", "三点五节课"),  # 节 alone is no holiday
        ("2号楼3单元401", "二号楼三单元四零一"),
        ("1205室", "一二零五室"),
        ("302房间", "三百零二房间"),
        ("1.2万-1.5万元", "一点二万到一点五万元"),
        ("1000+人", "一千多人"),
        ("1+1", "一加一"),
        ("3²", "三的平方"),
        ("x²+y²=1", "x的平方加y的平方等于一"),
        ("5m²", "五平方米"),
        ("√2", "根号二"),
        ("H2O", "H二O"),  # a formula, not B2B
        ("B2C", "B to C"),
        ("1点05分", "一点零五分"),  # as 1:05 is read
        ("5m/s", "每秒五米"),  # a rate reads its time first, as km/h does
        ("5MB/s", "每秒五兆字节"),
        ("2023.1", "二零二三年一月"),
        ("2023.1元", "两千零二十三点一元"),
        ("1/2+1/3=5/6", "二分之一加三分之一等于六分之五"),
        ("1:2.5", "一比二点五"),
        ("5cm×10cm", "五厘米乘十厘米"),
        ("价格+10元", "价格+十元"),  # no operator after Chinese text
        ("1e-5", "一乘十的负五次方"),
        ("6.02E23", "六点零二乘十的二十三次方"),
        ("86-10-12345678", "八六幺零幺二三四五六七八"),
        ("400 800 8888", "四零零八零零八八八八"),
        ("拜仁3-2", "拜仁三比二"),  # not a listed team, but a range never goes down
        ("湖人 2/1", "湖人二比一"),  # a house-listed short name (sport_teams.txt)
        ("国足0-2", "国足零比二"),  # a score may go up after a listed name
        ("火箭1-2级", "火箭一到二级"),  # a common word is never listed
        ("皇马0-0", "皇马零比零"),
        ("周一至周五9-5", "周一至周五九到五"),  # working hours
        ("第3-5页", "第三到五页"),
        # Found by running the old and new normalizer over People's Daily 1998-01:
        ("一座6000多平方米的晒谷场", "一座六千多平方米的晒谷场"),  # 座 counts here
        ("A座1001", "A座一零零一"),
        # A run-together table row: whatever it means, 95382 is no hotline.
        ("指数381·95382·37", "指数三百八十一点九万五千三百八十二点三十七"),
        ("我叫王×", "我叫王×"),  # a masked name, no times sign
        ("每小时100公里", "每小时一百公里"),
        ("速度60公里/小时", "速度每小时六十公里"),  # raised KeyError before
        ("房费232+早餐28", "房费两百三十二加早餐二十八"),  # a plus, not 多
    ],
    "licence_plate": [
        ("京A07ZX3F", "京A零七ZX三F"),
        ("皖C9B34E", "皖C九B三四E"),
    ],
    "cardinal_grouped_and_signed": [
        ("11,119,120", "一千一百一十一万九千一百二十"),  # grouped: never a code
        ("15873690", "一五八七三六九零"),  # 8 bare digits: a landline
        ("1亿2300人", "一亿零两千三百人"),
        ("1万200元", "一万零两百元"),
        ("1亿2300万", "一亿两千三百万"),
        ("2万5", "两万五"),  # the colloquial short form
        ("+5", "正五"),
        ("价格+10元", "价格+十元"),
    ],
    "phone": [
        ("400-800-8888", "四零零八零零八八八八"),  # issue 17: was 负/到
        ("客服电话400-123-4567", "客服电话四零零幺二三四五六七"),
        ("138-1234-5678", "幺三八幺二三四五六七八"),
        ("手机号：139 1234 5678", "手机号：幺三九幺二三四五六七八"),
        ("010-1234-5678", "零幺零幺二三四五六七八"),
        ("请拨打010-88886666", "请拨打零幺零八八八八六六六六"),
    ],
    "time": [
        ("12:00:30", "十二点零分三十秒"),  # every field read (house convention)
        ("比赛进行到12:00:30", "比赛进行到十二点零分三十秒"),  # not a score
        ("下午3:05出发", "下午三点零五分出发"),
        ("8:00-10:00", "八点到十点"),
        ("于8:30:15.5点火", "于八小时三十分十五点五秒点火"),  # tenths: elapsed
        ("马拉松成绩2:08:30", "马拉松成绩两小时零八分三十秒"),  # after 成绩
        ("全程耗时1:30:00", "全程耗时一小时三十分"),  # zero fields left out
        ("下午2:03:45", "下午两点零三分四十五秒"),  # a clock after 下午
        ("比赛用时1:45.3", "比赛用时一分四十五点三秒"),  # a lap time
        ("0:59.87", "五十九点八七秒"),
        ("比例1:2.5", "比例一比二点五"),  # one digit after the colon: a ratio
        ("比分1:2.5", "比分一比二点五"),  # decimals: no score
    ],
    "designation": [
        ("COVID-19", "COVID十九"),  # issue 17: the dash is silent
        ("COVID-19疫情", "COVID十九疫情"),
        ("SARS-CoV-2病毒", "SARS-CoV二病毒"),
        ("F-16战机", "F十六战机"),
        ("iPhone15", "iPhone十五"),
        ("MH370航班", "MH三七零航班"),
        ("B2B和O2O", "B to B和O to O"),
        ("PM2.5", "PM二点五"),
        ("A4-5页", "A四到五页"),  # a larger second number: a range
        ("iPhone14-15", "iPhone十四到十五"),
        ("GB2312-80", "GB二三一二八十"),  # else more of the designation
    ],
    "cardinal": [
        ("10001000", "一千万一千"),
        ("100000001000", "一千亿零一千"),
        ("30100008924", "三百零一亿零八千九百二十四"),
        ("1011111111", "十亿一千一百一十一万一千一百一十一"),
        ("第100000001000", "第一千亿零一千"),
        ("共12000人", "共一万二千人"),
    ],
    "code": [
        ("62345678", "六二三四五六七八"),  # 8 digits: a landline number
        ("007", "零零七"),
        ("1234567890123", "一二三四五六七八九零一二三"),
        ("卡号6222021234567890123", "卡号六二二二零二一二三四五六七八九零一二三"),
        ("验证码是123456", "验证码是一二三四五六"),
    ],
    "date": [
        ("1823年3月bc", "公元前一八二三年三月"),
        ("2023-2024赛季", "二零二三到二零二四赛季"),
        ("1990-2000年", "一九九零到二零零零年"),
        ("1990年-2000年", "一九九零年到二零零零年"),
        ("5月-6月", "五月到六月"),
        ("2024/3/15", "二零二四年三月十五日"),
    ],
    "range": [
        ("3-5天", "三到五天"),
        ("100-200元", "一百到两百元"),
        ("10%-20%", "百分之十到百分之二十"),
        ("温度是20~25℃", "温度是二十到二十五摄氏度"),
    ],
    "score": [
        ("比分3:2", "比分三比二"),
        ("主队以2-1获胜", "主队以二比一获胜"),
        ("巴西3-1德国", "巴西三比一德国"),  # after a team name (WeTextProcessing list)
        ("皇马 2:1 巴萨", "皇马二比一巴萨"),
        ("阿根廷0/0", "阿根廷零比零"),
        ("中国3-5月", "中国三到五月"),  # a range before a unit is no score
    ],
    "date_nemo": [
        ("21/5/3", "二一年五月三日"),  # two-digit year first (NeMo)
        ("21-05-03", "二一年五月三日"),
        ("05/20", "五月二十日"),  # 0m/dd (WeTextProcessing)
        ("公元前221年", "公元前二二一年"),  # after an era word: digit by digit
        ("西元1995年", "西元一九九五年"),
        ("98年", "九八年"),  # a two-digit year standing alone
        ("98年我去了北京", "九八年我去了北京"),
        ("50年来", "五十年来"),  # a count
        ("工作了50年", "工作了五十年"),
    ],
    "ordinal": [
        ("第2名", "第二名"),  # no 两 after 第
        ("第2次", "第二次"),
        ("第21届", "第二十一届"),
        ("第3-5名", "第三到五名"),
        ("第100100000", "第一亿零十万"),  # NeMo: 零十万, not 零一十万
    ],
    "math": [
        ("10-3=7", "十减三等于七"),  # not a range
        ("1-1=0", "一减一等于零"),
        ("x+y=5", "x加y等于五"),
        ("2x-1=3", "二x减一等于三"),
        ("a>b", "a大于b"),
        ("2^3", "二的三次方"),
        ("10^-6", "十的负六次方"),
        ("3×4=12", "三乘四等于十二"),
    ],
    "fraction": [
        ("1/100", "一百分之一"),
        ("1又1/2", "一又二分之一"),
        ("-1/3", "负三分之一"),
        ("1/2决赛", "二分之一决赛"),
        ("1/1000", "一千分之一"),  # not a month of the year 1000
        ("5/2023", "二零二三年五月"),
        ("+1/2", "正二分之一"),
    ],
    "measure": [
        ("5m2", "五平方米"),
        ("100km2的面积", "一百平方千米的面积"),
        ("3cm3", "三立方厘米"),
        ("3GB内存", "三吉字节内存"),
        ("220V", "两百二十伏特"),
        ("5ft", "五英尺"),
        ("2.5kg", "二点五千克"),
        ("30~41%", "百分之三十到百分之四十一"),
        ("100%", "百分之百"),
        ("11~100km/h", "每小时十一到一百公里"),
        ("风速3~5m/s", "风速每秒三到五米"),  # the range's time once, first
        ("下载速度1-2MB/s", "下载速度每秒一到二兆字节"),
        ("15-6kwh", "十五到六千瓦时"),
        ("100RMB", "一百人民币"),  # a code after the amount
        ("100 USD", "一百美元"),
        ("余额-¥15.5元", "余额负十五点五元"),  # the minus was dropped unread
        ("￥-50", "负五十元"),
        ("$.99", "零点九九美元"),
    ],
    "temperature_range": [
        ("-10~-5℃", "零下十到零下五摄氏度"),
        ("-10℃~-5℃", "零下十摄氏度到零下五摄氏度"),
        ("-5℃~10℃", "零下五摄氏度到十摄氏度"),
    ],
    "symbol_characters": [
        ("面积120㎡", "面积一百二十平方米"),  # was dropped: ㎡ is a symbol character
        ("3㎞", "三公里"),
        ("10㎏", "十千克"),
        ("½杯水", "二分之一杯水"),
        ("3½小时", "三又二分之一小时"),
        ("¾的人", "四分之三的人"),
        ("①第一点", "一第一点"),  # enumerators were dropped unread
        ("第Ⅲ卷", "第三卷"),
        ("Ⅱ型糖尿病", "二型糖尿病"),
        ("3∶2", "三比二"),
        ("H₂O", "H二O"),
        ("10⁻⁶", "十的负六次方"),
        ("1‱", "万分之一"),
        ("国发〔2023〕5号", "国发〔二零二三〕五号"),
    ],
    "compound_units": [
        ("PM2.5浓度为75μg/m³", "PM二点五浓度为七十五微克每立方米"),
        ("密度1.2g/cm³", "密度一点二克每立方厘米"),
        ("均价5万元/㎡", "均价五万元每平方米"),
        ("25元/kg", "二十五元每千克"),
        ("100元/人/天", "一百元每人每天"),
        ("性别：男/女", "性别：男/女"),  # an "or" slash is not 每 (was 男每女)
        ("北京/上海", "北京/上海"),
        ("车速30km/h", "车速每小时三十公里"),  # a rate still reads its time first
    ],
    "angles_and_event_dates": [
        ("东经116°23′", "东经一百一十六度二十三分"),  # ′ was dropped unread
        ("北纬39°54′27″", "北纬三十九度五十四分二十七秒"),
        ("配速5'30\"", "配速五分三十秒"),
        ("9·11事件", "九一一事件"),
        ("911事件", "九一一事件"),
        ("911是报警电话", "九幺幺是报警电话"),  # named: an emergency number
        ("考了120分", "考了一百二十分"),
        ("南航“5·8”空难", "南航“五八”空难"),
        ("增长3·3%", "增长百分之三点三"),  # a dot between digits is a decimal point
        ("1·8万人", "一点八万人"),
        ("5·12地震", "五一二地震"),
        ("12·9运动", "一二九运动"),
        ("他在1990s出生", "他在一九九零年代出生"),  # was 一千九百九十秒
        ("血压120/80mmHg", "血压一百二十比八十毫米汞柱"),  # was a fraction
        ("转速3000r/min", "转速三千转每分钟"),
    ],
    "height_and_plus": [
        ("身高1米75", "身高一米七五"),
        ("姚明2米26", "姚明两米二六"),
        ("5米30厘米", "五米三十厘米"),  # a unit after: no height shorthand
        ("10w+阅读", "十万加阅读"),
        ("3kg-5kg", "三千克到五千克"),  # was 三千克五KG (read as a designation)
        ("1 1/2杯", "一又二分之一杯"),
        ("9点05", "九点零五"),
        ("比例为1:2:3", "比例为一比二比三"),  # was 一:二比三
        ("3:4:5", "三点四分五秒"),  # no 比 before: a time it can be
        ("TWD45-6", "四十五到六新台币"),  # a currency code, no score
        ("这是一个o 2 o的平台", "这是一个O to O的平台"),
        ("他是M.V.P", "他是MVP"),
        ("国足0-1负于对手", "国足零比一负于对手"),  # a result after it: a score
        ("1-1战平", "一比一战平"),
        ("0-1岁", "零到一岁"),
        ("1000000000000", "一万亿"),  # a round number, no card number
        ("1234567890123", "一二三四五六七八九零一二三"),
        ("3天2夜", "三天两夜"),
        ("3室2厅", "三室两厅"),
        ("请转分机1201", "请转分机一二零一"),  # digits after a code word
        ("电话010 1234 5678", "电话零幺零幺二三四五六七八"),  # grouped by spaces
        ("+852 1234 5678", "加八五二幺二三四五六七八"),
        ("0755-88888888转123", "零七五五八八八八八八八八转幺二三"),
        ("5000年历史", "五千年历史"),  # years counted, not a calendar year
        ("3000年前", "三千年前"),
        ("2000年前后", "二零零零年前后"),
        ("计划在2000年前签署", "计划在二零零零年前签署"),
        ("1998—2000年", "一九九八到二零零零年"),  # a year range with an em dash
        ("3——5人", "三到五人"),
        ("2023届毕业生", "二零二三届毕业生"),  # a year naming a class
        ("2024款", "二零二四款"),
        ("2(3+4)=14", "二(三加四)等于十四"),  # operators next to brackets
        ("(1+2)×3=9", "(一加二)乘三等于九"),
        ("2^10=1024", "二的十次方等于一千零二十四"),
        ("n+1", "n加一"),  # a single letter: algebra, not a designation
        ("x-1", "x减一"),
        ("F-16", "F十六"),
        ("i9-13900K", "i九一三九零零K"),  # a model code's dash is no minus
        ("DDR5-6000", "DDR五六零零零"),
        ("5KG", "五千克"),  # units in capitals
        ("10MB", "十兆字节"),
        ("1h30min", "一小时三十分钟"),  # was 一小时三十MIN
        ("30fps", "三十帧每秒"),
        ("1998年前", "一九九八年前"),
        ("2分之1", "二分之一"),
        ("3/15消费者权益日", "三一五消费者权益日"),
        ("身份证后四位是1234", "身份证后四位是一二三四"),
        ("8am", "上午八点"),  # an hour with am/pm but no minutes
        ("晚上8点pm", "晚上八点"),
        ("10:30 a m", "上午十点三十分"),
        ("分辨率为1920x1080", "分辨率为一千九百二十乘一千零八十"),
        ("电池容量为4000mAh", "电池容量为四千毫安时"),
        ("下载速度达1Gbps", "下载速度达一吉比特每秒"),
    ],
    "address": [
        ("邮箱test_1@mail.com。", "邮箱test下划线一艾特mail点com。"),
        ("请访问http://example.com获取", "请访问example点com获取"),
        ("网址www.a-b.cn", "网址WWW点a杠b点CN"),
    ],
}


@pytest.mark.parametrize(
    ("text", "spoken"),
    [case for cases in CASES.values() for case in cases],
    ids=[f"{cat}-{i}" for cat, cases in CASES.items() for i in range(len(cases))],
)
def test_category(fe, text: str, spoken: str) -> None:
    assert fe.normalize(text) == spoken


@pytest.mark.parametrize("text", ["COVID-19", "400-800-8888", "F-16", "SARS-CoV-2"])
def test_dash_is_never_minus_or_to(fe, text: str) -> None:
    spoken = fe.normalize(text)
    assert "负" not in spoken and "到" not in spoken
    assert not re.search("-[零幺一二三四五六七八九十]", spoken)


def test_currency_word_is_not_doubled(fe) -> None:
    for text in ("￥1,234.56元", "¥8元", "$2美元", "HK$3港元", "RMB100人民币"):
        spoken = fe.normalize(text)
        for word in ("元", "美元", "港元", "人民币"):
            assert word + word not in spoken, (text, spoken)


def test_bench_names_house_convention_conflicts() -> None:
    from frontend_svc.bench import convention_conflicts

    assert convention_conflicts("6号", "六日") == ["hao_to_ri"]
    assert convention_conflicts("￥5", "五人民币") == ["yen_as_renminbi"]
    assert convention_conflicts("-10°C", "零下十度") == ["celsius_as_du"]
    assert convention_conflicts("-23°C", "负二十三摄氏度") == ["minus_degrees"]
    assert "ampm_kept" in convention_conflicts("10:04am", "十点四分am")
    assert convention_conflicts("PM2.5", "PM二点五") == []
    assert convention_conflicts("6号", "六号") == []
