"""Unit symbols and their Chinese readings (the measure rules' table).

Readings follow WeTextProcessing's and NeMo's ``units_en.tsv`` where they agree.
"""

from __future__ import annotations

import re

__all__ = ["PER", "RATE_UNITS", "UNITS", "UNIT_RE"]

UNITS = {
    "km²": "平方千米", "m²": "平方米", "cm²": "平方厘米", "mm²": "平方毫米",
    "m³": "立方米", "cm³": "立方厘米", "°C": "摄氏度", "℃": "摄氏度",
    "°F": "华氏度", "℉": "华氏度", "km": "公里", "kg": "千克", "mg": "毫克",
    "ml": "毫升", "mL": "毫升", "cm": "厘米", "mm": "毫米", "nm": "纳米",
    "μm": "微米", "ms": "毫秒", "kW": "千瓦", "kw": "千瓦", "kWh": "千瓦时",
    "kwh": "千瓦时", "KWh": "千瓦时", "KWH": "千瓦时",
    "kHz": "千赫兹", "MHz": "兆赫兹", "GHz": "吉赫兹", "Hz": "赫兹", "mph": "英里每小时",
    "min": "分钟", "g": "克", "m": "米", "s": "秒", "h": "小时", "t": "吨",
    "L": "升", "W": "瓦", "w": "万", "°": "度", "kcal": "千卡", "cal": "卡",
    "dB": "分贝", "kPa": "千帕", "MPa": "兆帕", "Pa": "帕斯卡",
    # WeTextProcessing/NeMo units_en.tsv (both agree on these readings)
    "km2": "平方千米", "m2": "平方米", "cm2": "平方厘米", "mm2": "平方毫米",
    "m3": "立方米", "cm3": "立方厘米", "dm3": "立方分米", "dm³": "立方分米",
    "mm³": "立方毫米", "km³": "立方千米",
    "dm": "分米", "ft": "英尺", "yd": "码", "mi": "英里", "mi²": "平方英里",
    "lb": "磅", "lbs": "磅", "oz": "盎司", "ha": "公顷", "ng": "纳克", "μg": "微克",
    "ns": "纳秒", "μs": "微秒", "ps": "皮秒", "mol": "摩尔", "mV": "毫伏", "mv": "毫伏",
    "mW": "毫瓦", "mw": "毫瓦", "GW": "吉瓦", "gw": "吉瓦", "GWh": "吉瓦时",
    "GPa": "吉帕斯卡", "kpa": "千帕", "mpa": "兆帕", "mhz": "兆赫兹", "khz": "千赫兹",
    "ghz": "吉赫兹", "hz": "赫兹", "kbps": "千比特每秒", "Kbps": "千比特每秒",
    "Mbps": "兆比特每秒", "mbps": "兆比特每秒", "rpm": "转每分", "bar": "巴",
    "GB": "吉字节", "gb": "吉字节", "TB": "太字节", "tb": "太字节", "V": "伏特",
    "ºC": "摄氏度", "°c": "摄氏度", "ºc": "摄氏度", "°f": "华氏度", "º": "度",
    "db": "分贝", "sq ft": "平方英尺", "kgf": "千克力",
    "gwh": "吉瓦时", "gpa": "吉帕斯卡", "pa": "帕斯卡", "v": "伏特", "rad": "弧度",
    "Gy": "戈瑞", "gy": "戈瑞", "Sv": "希沃特", "mSv": "毫希沃特", "pg": "皮克",
    "sq mi": "平方英里",
    "KG": "千克", "Kg": "千克", "CM": "厘米", "MM": "毫米", "KM": "公里", "Km": "公里",
    "ML": "毫升", "l": "升", "mA": "毫安", "MB": "兆字节", "KB": "千字节", "fps": "帧每秒",
    "Gbps": "吉比特每秒", "gbps": "吉比特每秒", "mAh": "毫安时", "mah": "毫安时",
    "mmHg": "毫米汞柱", "mmol": "毫摩尔", "r/min": "转每分钟",
    "TJ": "万亿焦耳", "tj": "万亿焦耳", "amu": "原子质量单位", "cwt": "英担",
}  # fmt: skip
UNIT_RE = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
"""Any unit symbol, longest first (so ``km`` wins over ``m``)."""
PER = {"h": "小时", "s": "秒", "min": "分钟"}
"""Time denominators of rates (30km/h)."""
RATE_UNITS = {"MB": "兆字节", "KB": "千字节", "kb": "千比特", "Mb": "兆比特"}
"""Data sizes that appear only in rates (5MB/s)."""
