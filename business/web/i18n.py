"""A small message catalogue: Chinese (default for the demo) and English labels."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {   # key: (zh, en)
    "app.title": ("物业管理后台", "Property management"),
    "login.title": ("登录", "Sign in"),
    "login.username": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": ("用户名或密码错误", "Wrong user name or password"),
    "login.locked": ("账户已锁定，请稍后再试", "Account locked, try again later"),
    "logout": ("退出", "Sign out"),
    "search": ("搜索", "Search"),
    "total": ("共 {n} 条", "records: {n}"),
    "save": ("保存", "Save"),
    "saved": ("已保存", "Saved"),
    "invalid": ("输入有误", "Please correct the highlighted fields"),
    "forbidden": ("无权限", "Not permitted"),
    "tab.units": ("房产与房屋", "Properties and units"),
    "tab.people": ("住户", "People"),
    "tab.staff": ("员工与考勤", "Staff and attendance"),
    "tab.assets": ("设备台账", "Assets"),
    "new.unit": ("新增房屋", "New unit"),
    "new.person": ("新增住户", "New person"),
    "building": ("楼栋", "Building"),
    "all": ("全部", "All"),
    "attendance": ("考勤", "Attendance"),
    "live": ("实时数据", "Live values"),
    "run_hours": ("运行小时", "Run hours"),
    "alarms": ("活动报警", "Active alarms"),
    "asset.pick": ("输入设备编号查看实时数据", "Enter an asset id to see live values"),
    "col.id": ("编号", "ID"), "col.code": ("代码", "Code"), "col.name": ("名称", "Name"),
    "col.floor": ("楼层", "Floor"), "col.use": ("用途", "Use"), "col.gross_area": ("建筑面积", "Gross area"),
    "col.inner_area": ("套内面积", "Inner area"), "col.status": ("状态", "Status"),
    "col.building_id": ("楼栋", "Building"), "col.phone": ("电话", "Phone"), "col.email": ("邮箱", "Email"),
    "col.preferred_channel": ("联系方式", "Preferred channel"), "col.employee_no": ("工号", "Employee no."),
    "col.skills": ("技能", "Skills"), "col.category": ("类别", "Category"), "col.model": ("型号", "Model"),
    "col.manufacturer": ("厂家", "Manufacturer"), "col.importance": ("重要性", "Importance"),
    "col.equipment_id": ("SCADA 设备", "SCADA equipment"), "col.warranty_end": ("保修截止", "Warranty end"),
    "col.day": ("日期", "Day"), "col.shift": ("班次", "Shift"), "col.late_minutes": ("迟到(分)", "Late (min)"),
    "col.early_leave_minutes": ("早退(分)", "Early leave (min)"), "col.property_id": ("物业", "Property"),
    "col.floors": ("层数", "Floors"), "col.path": ("点位", "Tag"), "col.value": ("值", "Value"),
    "col.good": ("质量好", "Good"),
}
LANGS = ("zh", "en")


def t(key: str, lang: str = "zh") -> str:
    """The label for ``key`` in ``lang`` (the key itself when missing, so gaps are visible)."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]


def column_label(column: str, lang: str) -> str:
    """Table header for a record field."""
    return t(f"col.{column}", lang) if f"col.{column}" in MESSAGES else column
