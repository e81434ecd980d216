"""Program titles, aliases, people, and clip titles written the way uploaders write them."""

from __future__ import annotations

import numpy as np
import zhconv

# Title words by render mode: (zh, en) pairs. Title words correlate with category, as on a real
# platform; several modes share words so a title alone is not a category label.
WORDS_A = {
    "series": [("长安", "Chang'an"), ("锦绣", "Splendid"), ("紫禁", "Forbidden"), ("江湖", "Jianghu"), ("青云", "Azure Cloud"), ("南城", "South City"), ("凤鸣", "Phoenix Song"), ("明月", "Bright Moon"), ("繁花", "Blossoms"), ("长歌", "Long Song"), ("东宫", "East Palace"), ("风华", "Grace"), ("万家", "Ten Thousand Homes"), ("归来", "Return")],
    "film": [("极速", "Full Speed"), ("暗夜", "Dark Night"), ("破晓", "Daybreak"), ("孤城", "Lone City"), ("烈火", "Blaze"), ("深海", "Deep Sea"), ("星际", "Interstellar"), ("无间", "Infernal"), ("龙城", "Dragon City"), ("归途", "Way Home"), ("长夜", "Long Night"), ("铁血", "Iron Blood"), ("追凶", "Manhunt"), ("风暴", "Tempest")],
    "variety": [("奔跑", "Running"), ("欢乐", "Happy"), ("向往", "Longing"), ("乘风", "Riding the Wind"), ("声音", "Voice"), ("星光", "Starlight"), ("周末", "Weekend"), ("快乐", "Joyful"), ("极限", "Extreme"), ("中国", "China"), ("厨房", "Kitchen"), ("明星", "Celebrity"), ("一起", "Together"), ("梦想", "Dream")],
    "anime": [("斗罗", "Douluo"), ("灵笼", "Ling Cage"), ("火影", "Fire Shadow"), ("天官", "Heaven Official"), ("魔道", "Demonic Path"), ("星辰", "Stars"), ("龙族", "Dragon Clan"), ("剑网", "Sword Net"), ("机动", "Mobile"), ("樱花", "Sakura"), ("少年", "Youth"), ("云海", "Sea of Clouds"), ("妖神", "Demon God"), ("时光", "Time")],
    "documentary": [("舌尖", "Tip of the Tongue"), ("航拍", "Aerial"), ("河西", "Hexi"), ("蓝色", "Blue"), ("大国", "Great Nation"), ("地球", "Earth"), ("长江", "Yangtze"), ("故宫", "Palace Museum"), ("森林", "Forest"), ("城市", "City"), ("丝路", "Silk Road"), ("冰川", "Glacier"), ("记住", "Remember"), ("生命", "Life")],
    "kids": [("小猪", "Little Pig"), ("汪汪", "Woof Woof"), ("熊熊", "Bear Bear"), ("宝宝", "Baby"), ("超级", "Super"), ("小鸡", "Little Chick"), ("彩虹", "Rainbow"), ("萌鸡", "Cute Chicks"), ("巴巴", "Barba"), ("海底", "Undersea"), ("贝瓦", "Beva"), ("小火车", "Little Train"), ("咕力", "Guli"), ("乐乐", "Lele")],
    "sports": [("巅峰", "Summit"), ("冠军", "Champion"), ("荣耀", "Glory"), ("绿茵", "Green Field"), ("篮下", "Under the Rim"), ("极速", "Full Speed"), ("王者", "Kings"), ("热血", "Hot Blood"), ("决战", "Showdown"), ("追风", "Chasing Wind"), ("赛场", "Arena"), ("雪山", "Snow Peak"), ("传奇", "Legend"), ("风云", "Storm")],
}
WORDS_B = {
    "series": [("秘闻", "Secret"), ("往事", "Bygone"), ("风云", "Storm"), ("传奇", "Legend"), ("恋歌", "Love Song"), ("梦华", "Dream"), ("人家", "Household"), ("少年", "Youth"), ("故事", "Story"), ("春秋", "Seasons")],
    "film": [("行动", "Operation"), ("危机", "Crisis"), ("之门", "Gate"), ("迷踪", "Trail"), ("风云", "Storm"), ("狂飙", "Rampage"), ("孤岛", "Island"), ("之战", "War"), ("密令", "Order"), ("觉醒", "Awakening")],
    "variety": [("吧兄弟", "Brothers"), ("生活", "Life"), ("大会", "Show"), ("好声音", "Voices"), ("挑战", "Challenge"), ("之夜", "Night"), ("派对", "Party"), ("来了", "Is Here"), ("星期天", "Sunday"), ("训练营", "Camp")],
    "anime": [("大陆", "Continent"), ("传说", "Legend"), ("赐福", "Blessing"), ("祖师", "Patriarch"), ("变", "Change"), ("战记", "War Chronicle"), ("之心", "Heart"), ("物语", "Tale"), ("奇缘", "Fate"), ("少年", "Youth")],
    "documentary": [("上的中国", "China"), ("中国", "of China"), ("走廊", "Corridor"), ("星球", "Planet"), ("工匠", "Craftsmen"), ("脉动", "Pulse"), ("之美", "Beauty"), ("日记", "Diary"), ("乡愁", "Nostalgia"), ("密码", "Code")],
    "kids": [("佩奇", "Peppa"), ("队", "Patrol"), ("出没", "Appear"), ("巴士", "Bus"), ("飞侠", "Wings"), ("乐园", "Park"), ("一家", "Family"), ("学堂", "School"), ("儿歌", "Songs"), ("探险", "Adventure")],
    "sports": [("之路", "Road"), ("时刻", "Moments"), ("对决", "Duel"), ("联赛", "League"), ("集锦", "Highlights"), ("之夜", "Night"), ("争霸", "Rivals"), ("征程", "Journey"), ("风暴", "Storm"), ("殿堂", "Hall")],
}
SUFFIX = {
    "series": [("录", "Files"), ("传", "Chronicles"), ("记", "Records"), ("令", "Decree"), ("", "")],
    "film": [("", ""), ("2049", "2049"), ("风暴", "Storm"), ("", "")],
    "variety": [("", ""), ("季", "Season"), ("", "")],
    "anime": [("", ""), ("传", "Chronicles"), ("录", "Files")],
    "documentary": [("", ""), ("纪", "Chronicle"), ("", "")],
    "kids": [("", ""), ("乐园", "Land"), ("", "")],
    "sports": [("", ""), ("纪", "Chronicle"), ("", "")],
}
SURNAMES = list("林周沈柳王李张陈赵孙吴郑冯韩杨朱秦许何吕施孔曹严华金魏陶姜谢萧叶苏顾江")
GIVEN = list("晓启明砚如烟子轩浩然雨欣思远梓涵一诺若曦嘉怡宇航天佑清风婉儿紫薇承恩长卿云舒书瑶凌霄慕白星河")
TYPO_POOL = list("长常场厂安按暗锦紧秘密闻问录路传船风峰云运华花")
NOISE_ZH = ["高能", "名场面", "cut", "reaction", "混剪", "合集", "太好哭了", "笑死", "必看", "抢先看", "花絮", "名台词", "名场面合集", "神剪辑"]
NOISE_EN = ["highlights", "best moments", "reaction", "cut", "fan edit", "lol", "must watch", "full scene", "compilation"]
GENERIC = ["这段太好笑了", "今天的快乐", "绝了绝了", "看哭了", "this scene though", "wait for it", "omg", "名场面", "经典片段", "随手分享", "不看后悔"]
CN_NUM = "零一二三四五六七八九十"
MENTIONS = ("title", "alias", "traditional", "typo", "episode", "character", "cast", "none")
MENTION_WEIGHTS = (0.18, 0.12, 0.08, 0.10, 0.12, 0.12, 0.08, 0.20)


def cn_number(n: int) -> str:
    if n <= 10:
        return CN_NUM[n]
    return ("" if n < 20 else CN_NUM[n // 10]) + "十" + (CN_NUM[n % 10] if n % 10 else "")


def person_name(rng: np.random.Generator) -> str:
    return str(rng.choice(SURNAMES)) + "".join(rng.choice(GIVEN, int(rng.integers(1, 3))))


def base_title(mode: str, rng: np.random.Generator) -> tuple[str, str]:
    a = WORDS_A[mode][int(rng.integers(0, len(WORDS_A[mode])))]
    b = WORDS_B[mode][int(rng.integers(0, len(WORDS_B[mode])))]
    s = SUFFIX[mode][int(rng.integers(0, len(SUFFIX[mode])))]
    zh = a[0] + b[0] + s[0]
    en = " ".join(x for x in (a[1], b[1], s[1]) if x)
    return zh, en


def season_title(zh: str, en: str, season: int) -> tuple[str, str]:
    return f"{zh} 第{cn_number(season)}季", f"{en} Season {season}"


def one_char_variant(zh: str, rng: np.random.Generator) -> str:
    """A title that differs from `zh` by one character (a lookalike program)."""
    chars = list(zh)
    i = int(rng.integers(0, len(chars)))
    pool = [c for c in GIVEN + TYPO_POOL if c != chars[i]]
    chars[i] = str(rng.choice(pool))
    return "".join(chars)


def aliases(zh: str, en: str, rng: np.random.Generator) -> list[str]:
    out = [en]
    trad = zhconv.convert(zh, "zh-hant")
    if trad != zh:
        out.append(trad)
    core = zh.split(" ")[0]
    if len(core) >= 4:
        out.append(core[: 2 + int(rng.integers(0, 2))])  # the short name fans use
    return list(dict.fromkeys(a for a in out if a and a != zh))


def typo(text: str, rng: np.random.Generator) -> str:
    chars = list(text)
    idx = [i for i, c in enumerate(chars) if not c.isspace()]
    if not idx:
        return text
    i = int(rng.choice(idx))
    if chars[i].isascii() and chars[i].isalpha():
        j = min(len(chars) - 1, i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    elif rng.random() < 0.3 and len(idx) > 2:
        del chars[i]
    else:
        chars[i] = str(rng.choice([c for c in TYPO_POOL if c != chars[i]]))
    return "".join(chars)


def clip_text(program: dict, episode_number: int, season: int, rng: np.random.Generator) -> tuple[str, str, str]:
    """(title, description, mention kind) for a clip of `program` as an uploader writes them."""
    mention = str(rng.choice(MENTIONS, p=MENTION_WEIGHTS))
    zh_noise = str(rng.choice(NOISE_ZH))
    en_noise = str(rng.choice(NOISE_EN))
    english = rng.random() < 0.25
    title, en_title = program["title"], program["en_title"]
    wrap = lambda s: str(rng.choice([f"【{s}】{zh_noise}", f"《{s}》{zh_noise}", f"{s} {zh_noise}", f"{zh_noise}|{s}"]))  # noqa: E731
    if mention == "title":
        text = f"{en_title} {en_noise}" if english else wrap(title)
    elif mention == "alias":
        pool = [a for a in program["aliases"] if a != en_title] or program["aliases"]
        text = wrap(str(rng.choice(pool))) if pool else wrap(title)
    elif mention == "traditional":
        text = wrap(zhconv.convert(title, "zh-hant"))
    elif mention == "typo":
        text = f"{typo(en_title, rng)} {en_noise}" if english else wrap(typo(title, rng))
    elif mention == "episode":
        form = int(rng.integers(0, 4))
        if form == 0:
            text = f"{title}第{episode_number}集 {zh_noise}"
        elif form == 1:
            text = f"{en_title} EP{episode_number} {en_noise}"
        elif form == 2:
            text = f"{en_title} S{season}E{episode_number}"
        else:
            text = f"【{title}】Part {episode_number} {zh_noise}"
    elif mention == "character":
        text = f"{rng.choice(program['characters'])} {zh_noise}" if program["characters"] else zh_noise
    elif mention == "cast":
        text = f"{rng.choice(program['cast'])} {rng.choice(['名场面', '演技', 'cut', '高光'])}"
    else:
        text = str(rng.choice(GENERIC))
    desc = ""
    if rng.random() < 0.3:
        desc = " ".join(f"#{w}" for w in rng.choice(NOISE_ZH + NOISE_EN, 2, replace=False))
    return text, desc, mention
