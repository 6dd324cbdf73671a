"""The office's fixed vocabulary: kinds, categories, directions, lifecycles (rulebook 1–3)."""

from __future__ import annotations

UNIT_KIND_LABELS: dict[str, str] = {"county": "区县", "department": "市直部门"}

CATEGORY_LABELS: dict[str, str] = {
    "key_development": "重点发展县",
    "development_potential": "有较大发展潜力县",
    "ecological_protection": "生态保护县",
    "party_mass": "党群部门",
    "government": "政府部门",
    "stationed": "中央省驻市单位",
    "entrusted_institution": "委托管理事业单位",
    "development_zone": "开发区",
}

CATEGORIES_BY_KIND: dict[str, tuple[str, ...]] = {
    "county": ("key_development", "development_potential", "ecological_protection"),
    "department": (
        "party_mass",
        "government",
        "stationed",
        "entrusted_institution",
        "development_zone",
    ),
}

KIND_OF_CATEGORY: dict[str, str] = {
    category: kind for kind, categories in CATEGORIES_BY_KIND.items() for category in categories
}

DIRECTION_LABELS: dict[str, str] = {"increase": "正向", "decrease": "逆向", "milestone": "节点"}

ITEM_STATUS_LABELS: dict[str, str] = {
    "approved": "已审批",
    "filed": "已报备",
    "proposed": "拟增",
    "rejected": "未通过",
}
COUNTING_ITEM_STATUSES = frozenset({"approved", "filed"})

LIFECYCLE_LABELS: dict[str, str] = {
    "active": "在用",
    "adapted": "变通",
    "merged": "整合",
    "simplified": "简化",
}
ASSESSED_LIFECYCLES = frozenset({"active", "adapted"})

SIMPLIFICATION_REASONS: dict[str, str] = {
    "low_operability": "操作性不强",
    "low_discrimination": "区分度不大",
    "unclear_responsibility": "权责边界不清",
    "obsolete": "不适应当前需求",
    "completed": "阶段性任务已完成",
    "low_value": "意义不大",
}

RESULT_USES: dict[str, str] = {
    "appointment": "任用",
    "commendation": "评优",
    "training": "教育",
    "reward_penalty": "奖惩",
    "supervision": "监督",
    "management": "管理",
    "cultivation": "培养",
}
