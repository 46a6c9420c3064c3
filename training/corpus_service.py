"""Service and announcement sentences for the corpus, made from templates.

The People's Daily text (:mod:`training.corpus`) has almost no second-person
polite speech (您 is rare in it), few numbers, codes, times or prices, and little
of the vocabulary a TTS service reads most: customer service, transport
announcements, notifications, navigation, weather. The teacher can speak any
text, so the recipe writes such sentences from templates with random fillers
(numbers as digits: our frontend normalizes them, as it will in service).

Written for this recipe, not taken from any evaluation list; :mod:`training.corpus`
still drops any sentence close to one (4-gram overlap).
"""

from __future__ import annotations

import random

__all__ = ["service_sentences"]

# One line per slot reads better than one word per line.
# fmt: off
_SLOTS: dict[str, tuple[str, ...]] = {
    "city": ("北京", "上海", "广州", "深圳", "成都", "重庆", "武汉", "西安", "南京",
        "苏州", "天津", "长沙", "郑州", "青岛", "沈阳", "昆明", "厦门", "福州",
        "哈尔滨", "乌鲁木齐", "呼和浩特", "贵阳", "南宁", "兰州", "济南"),
    "place": ("一号航站楼", "东广场", "地下停车场", "二楼服务台", "南门", "北出口",
        "候车大厅", "会员中心", "三号门", "自助服务区", "七楼餐厅", "西侧通道"),
    "item": ("订单", "包裹", "快件", "退款申请", "预约", "会员卡", "发票", "保单",
        "体检报告", "维修工单", "话费账单", "信用卡账单"),
    "thing": ("手机", "电脑", "耳机", "冰箱", "空调", "洗衣机", "沙发", "自行车",
        "牛奶", "水果", "大米", "衬衫", "运动鞋", "雨伞", "台灯", "茶叶"),
    "person": ("先生", "女士", "同学", "老师", "师傅", "用户", "顾客", "乘客",
        "家长"),
    "surname": ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐",
        "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗", "梁", "宋"),
    "weather": ("晴", "多云", "阴", "小雨", "中雨", "雷阵雨", "小雪", "雨夹雪",
        "大风"),
    "road": ("人民路", "中山大道", "建设街", "和平里", "长江路", "光明巷", "春晖路",
        "滨江大道", "学院路", "文化广场"),
    "org": ("银行", "医院", "营业厅", "物业", "图书馆", "车管所", "社区服务站",
        "售后中心", "酒店前台", "学校教务处"),
    "action": ("确认", "查询", "修改", "取消", "办理", "续费", "更换", "领取",
        "核对"),
    "feeling": ("抱歉", "不好意思", "遗憾"),
}
# fmt: on
_SLOTS["digit"] = tuple(str(d) for d in range(10))

_TEMPLATES: tuple[str, ...] = (
    "{person}您好，请问有什么可以帮您？",
    "{surname}{person}，您的{item}已经处理完毕，请注意查收。",
    "您好，您预约的服务将在明天上午{h}点开始，请准时到达。",
    "非常感谢您的耐心等待，我们马上为您{action}。",
    "很{feeling}给您添麻烦了，我们会尽快解决这个问题。",
    "尊敬的{person}，您本月的{item}共计{n}元，请在{d}号之前缴清。",
    "您的验证码是{code}，五分钟内有效，请勿告诉他人。",
    "请您稍等，正在为您转接人工服务。",
    "如果您对本次服务满意，请按一，不满意请按二。",
    "您拨打的电话暂时无法接通，请稍后再拨。",
    "您的{thing}已经从{city}发出，预计{n2}天后送达。",
    "{surname}{person}，您的{item}编号是{code}，请您妥善保存。",
    "您已成功{action}{item}，感谢您的使用。",
    "为了您的安全，请不要在{place}附近停留。",
    "请您带好随身物品，从{place}有序离开。",
    "开往{city}的{train}次列车现在开始检票，请到{gate}号检票口上车。",
    "乘坐{city}方向航班的旅客请注意，您的航班将延误约{small}分钟。",
    "本次列车终点站是{city}，下车的乘客请提前做好准备。",
    "前方到站是{road}站，请从列车运行方向的右侧车门下车。",
    "列车运行期间，请您坐稳扶好，照顾好身边的老人和儿童。",
    "前方{n2}百米左转，进入{road}，然后继续直行。",
    "您已偏离路线，正在为您重新规划。",
    "前方路口有测速拍照，限速{speed}公里每小时。",
    "{city}今天{weather}，气温{t1}到{t2}度，出门请注意添减衣物。",
    "明天{city}{weather}，早晚温差较大，请注意保暖。",
    "受冷空气影响，{city}的最低气温将降到零下{t1}度。",
    "{org}的营业时间是每天早上{h}点到晚上{h2}点。",
    "您好，{org}今天下午暂停办理业务，给您带来不便，敬请谅解。",
    "请{surname}先生到{place}办理手续。",
    "请持有{code}号号码的顾客到{gate}号窗口办理业务。",
    "本店{thing}一律八折，满{n}元还可以再减{m}元。",
    "这款{thing}的价格是{n}元{jiao}角，现在购买送一年保修。",
    "您购买的{thing}已经签收，如有问题请在七天内申请退换。",
    "您的账户在{h}点{min}分有一笔{n}元的支出，如非本人操作请立即联系我们。",
    "您的信用卡还款日是每月{d}号，请按时还款。",
    "温馨提示，您的{item}即将到期，请及时{action}。",
    "系统检测到您的密码过于简单，建议您尽快修改。",
    "您的会员积分还有{n}分，可以兑换一份小礼品。",
    "欢迎来到{city}，祝您旅途愉快。",
    "您好，您的房间在{floor}楼，早餐时间是早上{h}点到{h2}点。",
    "会议将在{h}点{min}分准时开始，请各位提前入场并将手机调成静音。",
    "请各位同学在下周{weekday}之前提交作业。",
    "图书馆将于{n2}月{d}号起延长开放时间。",
    "本次考试共{small}道题，考试时间为{n2}分钟。",
    "门诊{gate}号诊室请{surname}女士准备就诊。",
    "请您空腹来医院抽血，检查结果大约{n2}个工作日后可以查询。",
    "根据您的用电情况，本月电费为{n}点{digit}{digit}元。",
    "您的快递员{surname}师傅正在派送，请保持电话畅通。",
    "小区{gate}号楼明天上午{h}点到下午{h2}点停水，请提前储水。",
    "为了保护环境，请您把垃圾分类投放。",
    "您好，请出示您的身份证和{item}。",
    "我们已经收到您的反馈，会在{n2}个工作日内给您答复。",
    "您的订单号尾号是{digit}{digit}{digit}{digit}，请核对后再确认。",
    "谢谢您的来电，再见。",
    "您是否需要我们为您开具发票？",
    "您的孩子今天在学校表现很好，请家长放心。",
    "这段路况复杂，请您注意避让行人和非机动车。",
    "今天的汇率是一美元兑换{n2}点{digit}{digit}元人民币。",
    "您好，二号线因设备故障暂停运营，请您换乘其他线路。",
    "请您在{n2}点之前退房，逾期将按半天收费。",
    "您的航班号是{air}{code4}，登机口在{gate}号。",
)


def _fill(template: str, rng: random.Random) -> str:
    values = {name: rng.choice(options) for name, options in _SLOTS.items()}
    values.update(
        n=str(rng.randint(2, 980)),
        m=str(rng.randint(5, 99)),
        n2=str(rng.randint(2, 12)),
        small=str(rng.randint(10, 60)),
        gate=str(rng.randint(1, 48)),
        floor=str(rng.randint(2, 28)),
        d=str(rng.randint(1, 28)),
        h=str(rng.randint(6, 11)),
        h2=str(rng.randint(5, 10)),
        min=str(rng.choice((5, 10, 15, 20, 25, 30, 40, 45, 50))),
        t1=str(rng.randint(1, 15)),
        t2=str(rng.randint(16, 36)),
        speed=str(rng.choice((30, 40, 60, 80, 100, 120))),
        jiao=str(rng.randint(1, 9)),
        code="".join(rng.choice("0123456789") for _ in range(6)),
        code4="".join(rng.choice("0123456789") for _ in range(4)),
        train=rng.choice("GDKZT") + str(rng.randint(10, 2999)),
        air=rng.choice(("CA", "MU", "CZ", "HU", "ZH")),
        weekday=rng.choice("一二三四五六") if rng.random() < 0.85 else "日",
    )
    return template.format(**values)


def service_sentences(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct sentences (fewer if the templates run out of variety)."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    for _ in range(count * 20):
        if len(out) >= count:
            break
        out[_fill(rng.choice(_TEMPLATES), rng)] = None
    return list(out)
