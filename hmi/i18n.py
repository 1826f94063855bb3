"""The HMI's words in every language it speaks (``hmi.language``: en, zh), and the one function that looks them up.

Every operator-visible word of the HMI screens goes through :func:`tr` (a
session's ``t``) with a symbolic key; tag paths, equipment and building names,
alarm messages and units come from the site and are never translated.
Each entry is one ``key: (English, Chinese)`` pair, so a key cannot exist in
one language only. Chinese uses the usual BMS/SCADA terms: 报警, 确认
(acknowledge), 搁置/解除搁置 (ISA-18.2 shelve/unshelve), 趋势, 实时, quality
良好/坏值/不确定/过期.

A key missing from the table is shown in English when it is known there (else
the key itself), logged once and remembered in :data:`MISSING`, which the
tests check after rendering every page in every language.
"""

from __future__ import annotations

import logging
from typing import Callable

log = logging.getLogger(__name__)

LANGUAGES = ("en", "zh")
PAIRS: dict[str, tuple[str, str]] = {
    # -- login, navigation, frame (the original table of app.py) --------------------------------
    "title": ("Operator HMI", "运行监控"), "user": ("User name", "用户名"), "password": ("Password", "密码"),
    "login": ("Log in", "登录"), "overview": ("Overview", "总览"), "alarms": ("Alarm summary", "报警汇总"),
    "trends": ("Trends", "趋势"), "logout": ("Log out", "退出"), "updated": ("updated", "更新于"),
    "role.operator": ("operator", "操作员"), "role.viewer": ("view only", "仅查看"),
    "login.empty": ("enter a user name and a password", "请输入用户名和密码"),
    "login.wrong": ("wrong user name or password", "用户名或密码错误"),
    "login.no_access": ("user {user} has no HMI access (permission {permission})",
                        "用户 {user} 无监控画面访问权限（权限 {permission}）"),
    "page.no_alarms": ("Alarms are not configured for this site", "本站未配置报警"),
    # -- quality ----------------------------------------------------------------------------------
    "q.good": ("Good", "良好"), "q.uncertain": ("Uncertain", "不确定"), "q.bad": ("Bad", "坏值"),
    "q.stale": ("Stale", "过期"), "q.waiting": ("Not yet read", "未读取"),
    "q.why.no_value": ("no value", "无数值"),
    "q.why.stale": ("device not connected: last value received before the connection was lost",
                    "设备未连接：显示的是断线前收到的最后数值"),
    "colon": (": ", "："), "v.on": ("ON", "开"), "v.off": ("OFF", "关"), "display_error": ("display error", "显示错误"),
    # -- overview, building, class and detail pages --------------------------------------------
    "p.alarms_counts": ("Alarms: {counts}", "报警：{counts}"), "p.site_overview": ("{site}: overview", "{site}：总览"),
    "p.abnormal": ("{bad} of {total} abnormal", "{total} 台中 {bad} 台异常"),
    "p.normal": ("{total} normal", "{total} 台正常"), "p.not_good": ("{n} not good", "{n} 个质量非良好"),
    "p.demand": ("Demand", "需量"), "p.elevators": ("Elevators", "电梯"),
    "p.in_service": ("{ok}/{total} in service", "{ok}/{total} 台在用"), "p.faults": ("{n} fault", "{n} 台故障"),
    "p.chillers_running": ("Chillers running", "冷水机组运行"), "p.ahus_running": ("AHUs running", "空调机组运行"),
    "p.lighting_on": ("Lighting circuits on", "照明回路开启"), "p.chw": ("{name} CHW", "{name} 冷冻水"),
    "p.free_spaces": ("Free spaces", "空余车位"), "p.equipment": ("Equipment", "设备"),
    "p.more": ("… {n} more", "… 另有 {n} 台"), "p.today": ("today", "今日"), "p.open": ("Open", "打开"),
    "p.today_consumption": ("Today's consumption: {value}", "今日用量：{value}"),
    "p.last_hour": ("Last hour: {items}", "最近一小时：{items}"), "p.list_sep": (", ", "，"),
    "p.entries": ("entries", "驶入"), "p.exits": ("exits", "驶出"),
    "p.no_eq_alarms": ("No active alarms on this equipment", "该设备无活动报警"),
    "p.device": ("device {device}", "现场设备 {device}"), "p.trend": ("Trend", "趋势"),
    "p.alarms": ("Alarms", "报警"), "p.points": ("Points", "测点"), "p.asset": ("Asset {code}", "资产 {code}"),
    "site_wide": ("Site-wide", "全站公共"),
    # -- equipment classes --------------------------------------------------------------------------
    "cls.elevator": ("Elevators", "电梯"), "cls.chiller": ("Chillers", "冷水机组"),
    "cls.ahu": ("Air handling units", "空调机组"), "cls.lighting": ("Lighting", "照明"),
    "cls.parking": ("Parking", "停车场"), "cls.parking-space": ("Parking spaces", "车位"),
    "cls.meter": ("Meters", "计量表"),
    # -- equipment displays -------------------------------------------------------------------------
    "dir.down": ("▼ down", "▼ 下行"), "dir.idle": ("idle", "停梯"), "dir.up": ("▲ up", "▲ 上行"),
    "door.closed": ("closed", "已关门"), "door.opening": ("opening", "开门中"), "door.open": ("open", "已开门"),
    "door.closing": ("closing", "关门中"),
    "ef.none": ("none", "无"), "ef.door": ("door", "门故障"), "ef.overload": ("overload", "超载"),
    "ef.entrapment": ("entrapment", "困人"), "ef.safety": ("safety", "安全回路"),
    "cf.none": ("none", "无"), "cf.low_flow": ("low flow", "低流量"), "cf.high_pressure": ("high pressure", "高压"),
    "cf.compressor_trip": ("compressor trip", "压缩机跳闸"),
    "s.in_service": ("in service", "在用"), "s.out_of_service": ("OUT OF SERVICE", "停止服务"),
    "s.moving": ("moving", "运行中"), "s.stopped": ("stopped", "停止"), "s.call": ("CALL", "呼叫"),
    "s.no_call": ("no call", "无呼叫"), "s.running": ("running", "运行"), "s.alarm": ("ALARM", "报警"),
    "s.normal": ("normal", "正常"), "s.cmd_mismatch": ("CMD MISMATCH", "指令与状态不符"),
    "s.start": ("start", "启动"), "s.stop": ("stop", "停止"), "s.on": ("on", "开"), "s.off": ("off", "关"),
    "s.open": ("open", "开启"), "s.closed": ("closed", "关闭"), "s.vehicle": ("vehicle", "有车"),
    "s.clear": ("clear", "无车"), "s.open_cmd": ("open cmd", "开闸指令"), "s.none": ("—", "—"),
    "s.held_open": ("held open", "保持开启"),
    "s.released": ("released", "已释放"),
    "l.floor": ("Floor", "楼层"), "l.direction": ("Direction", "方向"), "l.moving": ("Moving", "运行"),
    "l.door": ("Door", "轿门"), "l.in_service": ("In service", "服务状态"), "l.fault": ("Fault", "故障"),
    "l.emergency_call": ("Emergency call", "紧急呼叫"), "l.load": ("Load", "载重"), "l.trips": ("Trips", "运行次数"),
    "l.run_hours": ("Run hours", "运行小时"), "l.condenser_water": ("Condenser water", "冷却水"),
    "l.compressor": ("Compressor", "压缩机"), "l.load_lc": ("load", "负载"), "l.power_lc": ("power", "功率"),
    "l.chilled_water": ("Chilled water", "冷冻水"), "l.supply_lc": ("supply", "供水"),
    "l.return_lc": ("return", "回水"), "l.setpoint_lc": ("setpoint", "设定值"),
    "l.common_alarm": ("Common alarm", "综合报警"), "l.alarm_code": ("Alarm code", "报警代码"),
    "l.return_air": ("Return air", "回风"), "l.mixed_air": ("Mixed air", "混风"), "l.filter": ("Filter", "过滤器"),
    "l.chw_coil": ("CHW coil", "冷水盘管"), "l.valve_lc": ("valve", "阀门"), "l.supply_fan": ("Supply fan", "送风机"),
    "l.airflow_lc": ("airflow", "风量"), "l.supply_air": ("Supply air", "送风"),
    "l.fan_command": ("Fan command", "风机指令"), "l.fan_hours": ("Fan hours", "风机运行小时"),
    "l.circuit": ("Circuit", "回路"), "l.command": ("Command", "指令"), "l.illuminance": ("Illuminance", "照度"),
    "l.occupied": ("Occupied", "已占用"), "l.free_spaces": ("Free spaces", "空余车位"),
    "l.occupancy": ("Occupancy", "占用率"), "l.entries_counter": ("Entries (counter)", "驶入（累计）"),
    "l.exits_counter": ("Exits (counter)", "驶出（累计）"), "l.barrier": ("Barrier", "道闸"),
    "l.loop_detector": ("Loop detector", "地感线圈"), "l.open_command": ("Open command", "开闸指令"),
    "l.demand": ("Demand", "需量"), "l.energy_register": ("Energy (register)", "电能（表底）"),
    "l.voltage": ("Voltage", "电压"), "l.current": ("Current", "电流"),
    "l.water_register": ("Water (register)", "水量（表底）"),
    "g.occupied": ("{occupied} of {total} occupied", "已占用 {occupied}/{total}"),
    "g.no_reading": (", {bad} without a good reading", "，{bad} 个无有效读数"),
    "g.floors": ("floors {bottom} to {top}", "楼层 {bottom} 至 {top}"),
    "pt.point": ("point", "测点"), "pt.value": ("value", "数值"), "pt.quality": ("quality", "质量"),
    "pt.description": ("description", "描述"),
    "pt.state_why": ("{state}: {why}", "{state}：{why}"),
    "h.floor": ("floor", "楼层"), "h.direction": ("direction", "方向"), "h.door": ("door", "轿门"),
    "h.service": ("service", "服务"), "h.fault": ("fault", "故障"), "h.state": ("state", "状态"),
    "h.chw_supply": ("CHW supply", "冷冻水供水"), "h.setpoint": ("setpoint", "设定值"), "h.load": ("load", "负载"),
    "h.power": ("power", "功率"), "h.alarm": ("alarm", "报警"), "h.fan": ("fan", "风机"),
    "h.supply_air": ("supply air", "送风"), "h.valve": ("valve", "阀门"), "h.filter_dp": ("filter ΔP", "过滤器压差"),
    "h.circuit": ("circuit", "回路"), "h.command": ("command", "指令"), "h.lux": ("lux", "照度"),
    "h.state_occupied": ("state / occupied", "状态 / 已占用"), "h.loop_free": ("loop / free", "线圈 / 空余"),
    "h.cmd_entries": ("cmd / entries", "指令 / 驶入"), "h.exits": ("exits", "驶出"),
    "h.demand": ("demand", "需量"), "h.energy": ("energy", "电能"), "h.voltage": ("voltage", "电压"),
    "h.current": ("current", "电流"), "h.value": ("value", "数值"),
    # -- alarms ---------------------------------------------------------------------------------------
    "st.unack_active": ("Active, unacknowledged", "活动，未确认"),
    "st.ack_active": ("Active, acknowledged", "活动，已确认"),
    "st.rtn_unack": ("Cleared, unacknowledged", "已恢复，未确认"), "st.latched": ("Latched", "已锁存"),
    "st.shelved": ("Shelved", "已搁置"), "st.suppressed": ("Suppressed", "已抑制"),
    "st.out_of_service": ("Out of service", "停用"), "st.normal": ("Normal", "正常"),
    "prio.critical": ("critical", "紧急"), "prio.high": ("high", "高"), "prio.medium": ("medium", "中"),
    "prio.low": ("low", "低"),
    "dur.15 min": ("15 min", "15 分钟"), "dur.1 h": ("1 h", "1 小时"), "dur.8 h": ("8 h", "8 小时"),
    "dur.24 h": ("24 h", "24 小时"), "dur.7 d": ("7 d", "7 天"),
    "a.not_configured": ("alarms not configured", "未配置报警"),
    "a.banner_not_configured": ("Alarms not configured for this site", "本站未配置报警"),
    "a.none_active": ("No active alarms", "无活动报警"),
    "a.more": ("{n} more in the alarm summary", "另有 {n} 条，见报警汇总"),
    "a.totals": ("{active} active, {unacked} unacknowledged", "活动 {active} 条，未确认 {unacked} 条"),
    "a.all": ("(all)", "（全部）"), "a.annunciated": ("annunciated", "当前报警"),
    "a.all_not_normal": ("(all not normal)", "（全部非正常）"),
    "a.building": ("Building", "楼栋"), "a.area": ("Area", "区域"), "a.priority": ("Priority", "优先级"),
    "a.state": ("State", "状态"), "a.comment": ("Comment (required)", "备注（必填）"), "a.why": ("why", "原因"),
    "a.shelve_for": ("Shelve for", "搁置时长"), "a.ack_selected": ("Acknowledge selected", "确认所选报警"),
    "a.shelve_selected": ("Shelve selected", "搁置所选报警"),
    "a.unshelve_selected": ("Unshelve selected", "解除搁置所选报警"),
    "a.may_not": ("{user} may not {action} alarms (permission {permission})",
                  "{user} 无权{action}报警（权限 {permission}）"),
    "a.verb.ack": ("acknowledge", "确认"), "a.verb.shelve": ("shelve", "搁置"), "a.verb.unshelve": ("unshelve", "解除搁置"),
    "a.select_first": ("Select one or more alarms first", "请先选择一条或多条报警"),
    "a.comment_required": ("A comment is required", "必须填写备注"),
    "a.done.ack": ("{n} acknowledged by {user}", "{user} 已确认 {n} 条报警"),
    "a.done.shelve": ("{n} shelved by {user}", "{user} 已搁置 {n} 条报警"),
    "a.done.unshelve": ("{n} unshelved by {user}", "{user} 已解除搁置 {n} 条报警"),
    "a.skipped": ("skipped, not shelved: {ids}", "已跳过（未处于搁置）：{ids}"),
    "col.id": ("id", "报警标识"), "col.time": ("time", "时间"), "col.priority": ("priority", "优先级"),
    "col.state": ("state", "状态"), "col.building": ("building", "楼栋"), "col.area": ("area", "区域"),
    "col.equipment": ("equipment", "设备"), "col.message": ("message", "报警信息"), "col.value": ("value", "数值"),
    "col.work order": ("work order", "工单"), "col.shelved by": ("shelved by", "搁置人"),
    "col.shelved until": ("shelved until", "搁置至"), "col.shelve reason": ("shelve reason", "搁置原因"),
    # -- faceplates -----------------------------------------------------------------------------------
    "f.done": ("confirmed", "已确认"), "f.refused": ("refused", "已拒绝"), "f.failed": ("failed", "失败"),
    "f.confirmation_required": ("needs confirmation", "需要确认"),
    "f.return_to_service": ("Return to service", "恢复服务"), "f.take_out_of_service": ("Take out of service", "退出服务"),
    "f.open": ("Open", "开闸"), "f.release": ("Release", "释放"), "f.on": ("On", "开"), "f.off": ("Off", "关"),
    "f.start": ("Start", "启动"), "f.stop": ("Stop", "停止"),
    "f.view_only": ("View only: your role may not send commands", "仅查看：您的角色无权下发指令"),
    "f.no_commands": ("Commands are not available (no command path)", "指令不可用（无指令通道）"),
    "f.commands": ("Commands", "控制指令"), "f.set": ("Set {name}", "下发 {name}"),
    "f.enter_value": ("enter a value first", "请先输入数值"), "f.confirm": ("Confirm", "确认执行"),
    "f.cancel": ("Cancel", "取消"), "f.cancelled": ("cancelled", "已取消"),
    "f.critical": ("Critical command", "关键指令"), "f.critical_q": ("set {path} to {value}?", "将 {path} 设为 {value}？"),
    "f.not_allowed": ("your role may not send commands", "您的角色无权下发指令"),
    "f.sending": ("sending {path} = {value} …", "正在下发 {path} = {value} …"),
    "f.loop": ("Loop {name}", "控制回路 {name}"), "f.mode": ("mode", "模式"), "f.sp": ("sp", "设定值"),
    "f.pv": ("pv", "过程值"), "f.out": ("out", "输出"), "f.manual": ("manual", "手动"), "f.auto": ("auto", "自动"),
    "f.status": ("status", "状态"), "f.interlock": ("interlock", "联锁"),
    "f.st.starting": ("starting", "启动中"), "f.st.waiting": ("waiting for data", "等待数据"),
    "f.st.ok": ("controlling", "自动调节中"), "f.st.manual": ("manual", "手动"),
    "f.st.tracking": ("tracking", "跟踪"), "f.st.tracking_slave": ("tracking (cascade)", "跟踪（串级）"),
    "f.st.bad_sp": ("setpoint invalid", "设定值无效"), "f.st.bad_pv": ("process value bad", "过程值坏值"),
    "f.st.interlocked": ("held by interlock", "联锁保持"),
    "f.output_manual": ("output (manual)", "输出（手动）"), "f.setpoint": ("setpoint", "设定值"),
    "f.set_output": ("Set output", "下发输出"), "f.set_setpoint": ("Set setpoint", "下发设定值"),
    # -- trends -----------------------------------------------------------------------------------------
    "tr.tags": ("Tags", "测点"), "tr.range": ("Range", "时间范围"),
    "tr.end": ("End (empty = now, UTC)", "结束时间（留空为当前，UTC）"), "tr.live": ("Live tail", "实时跟随"),
    "tr.show": ("Show", "显示"), "tr.export": ("Export CSV", "导出 CSV"),
    "tr.no_historian": ("No historian configured", "未配置历史库"),
    "tr.no_historian_why": ("trends need a historian section.", "趋势需要配置历史库。"),
    "tr.pick": ("Pick one or more tags", "请选择一个或多个测点"), "tr.loading": ("loading …", "加载中 …"),
    "tr.failed": ("history query failed: {error}", "历史查询失败：{error}"),
    "tr.points": ("{total} points from {start} to {end} UTC", "{total} 个数据点，{start} 至 {end} UTC"),
}
TEXT: dict[str, dict[str, str]] = {lang: {k: pair[i] for k, pair in PAIRS.items()} for i, lang in enumerate(LANGUAGES)}
MISSING: set[tuple[str, str]] = set()


def tr(lang: str, key: str, **fields) -> str:
    """The text of ``key`` in ``lang`` with ``fields`` filled in (English, then the key, when missing)."""
    table = TEXT.get(lang) or TEXT["en"]
    text = table.get(key)
    if text is None:
        if (lang, key) not in MISSING:
            MISSING.add((lang, key))
            log.warning("HMI text %r has no %s translation", key, lang)
        text = TEXT["en"].get(key, key)
    return text.format(**fields) if fields else text


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **fields)`` bound to one language."""
    def t(key: str, **fields) -> str:
        return tr(lang, key, **fields)
    return t


def optional(lang: str, prefix: str, name: str) -> str:
    """The translation of a site-configured name when the table knows it (priorities), else the name as is."""
    key = f"{prefix}.{name}"
    return tr(lang, key) if key in TEXT["en"] else name
