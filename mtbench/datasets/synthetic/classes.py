"""Label tables of the synthetic benchmark: VOC-21, PASCAL-Context-459, NYUv2-40 and parts.

Every surface of a synthetic scene carries a *kind* (``'person'``, ``'chair'``, ``'wall'``...).
:data:`KINDS` maps a kind to its PASCAL VOC id (21-class semseg, 0 = background), its
PASCAL-Context 459-class id (``LabelMap``) and its NYUv2 40-class id (``segmentation``, 0 =
unlabeled). Context ids are the official ones (``context_classes.json`` of the reference code).
"""
from typing import Dict, NamedTuple

__all__ = ['VOC_CLASSES', 'NYU40_CLASSES', 'NYU_COMPATIBLE_CONTEXT_IDS', 'PERSON_PART_GROUPS',
           'PART_NAMES', 'PART_GROUP_NAMES', 'Kind', 'KINDS', 'OBJECT_PART_NAMES']

VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
               'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
               'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')

NYU40_CLASSES = ('unlabeled', 'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door',
                 'window', 'bookshelf', 'picture', 'counter', 'blinds', 'desk', 'shelves',
                 'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes', 'ceiling',
                 'books', 'refridgerator', 'television', 'paper', 'towel', 'shower curtain', 'box',
                 'whiteboard', 'person', 'night stand', 'toilet', 'sink', 'lamp', 'bathtub', 'bag',
                 'otherstructure', 'otherfurniture', 'otherprop')

# PASCAL-Context ids whose distilled normals the reference loader keeps (NYU classes + tvmonitor).
NYU_COMPATIBLE_CONTEXT_IDS = frozenset(int(x) for x in """
3 4 6 9 10 11 13 15 17 18 22 23 29 30 33 34 36 37 38 39 41 43 46 49 50 51 53 55 56 59 61 62 65 66
68 69 72 73 78 83 84 85 87 88 95 96 101 104 105 107 111 113 115 122 124 135 141 142 143 146 150
154 157 158 159 165 172 174 181 183 184 191 193 195 197 199 202 213 215 216 219 220 223 225 228
230 232 233 238 239 242 243 246 250 251 252 255 260 261 263 269 272 273 275 281 283 284 285 286
287 288 290 291 292 293 295 304 307 309 310 314 315 319 323 329 330 331 336 342 345 349 350 351
352 355 357 368 370 371 374 379 380 383 384 397 401 403 405 407 408 411 412 413 414 417 419 421
423 427 429 430 432 440 441 442 443 444 446 454 457""".split())

# PASCAL-Part person part names -> the 6 groups of the multi-task benchmark (0 = background).
PERSON_PART_GROUPS: Dict[str, int] = {
    **dict.fromkeys(('hair', 'head', 'lear', 'rear', 'lebrow', 'rebrow', 'leye', 'reye', 'mouth',
                     'nose'), 1),
    **dict.fromkeys(('neck', 'torso'), 2),
    **dict.fromkeys(('luarm', 'ruarm'), 3),
    **dict.fromkeys(('llarm', 'rlarm', 'lhand', 'rhand'), 4),
    **dict.fromkeys(('luleg', 'ruleg'), 5),
    **dict.fromkeys(('llleg', 'rlleg', 'lfoot', 'rfoot'), 6),
}
PART_GROUP_NAMES = ('background', 'head', 'torso', 'upper_arm', 'lower_arm', 'upper_leg',
                    'lower_leg')

# Part names used by the synthetic objects; index 0 means "no part". Person parts first.
OBJECT_PART_NAMES = ('torso', 'head', 'lfleg', 'rfleg', 'lbleg', 'rbleg', 'tail', 'wheel_1',
                     'wheel_2', 'wheel_3', 'wheel_4', 'fwheel', 'bwheel', 'saddle', 'handlebar',
                     'body', 'cap', 'pot', 'plant', 'screen', 'lwing', 'rwing', 'stern', 'tvframe',
                     'beak')
PART_NAMES = ('', *PERSON_PART_GROUPS) + tuple(
    n for n in OBJECT_PART_NAMES if n not in PERSON_PART_GROUPS)


class Kind(NamedTuple):
    """Labels of one kind of surface.

    Attributes:
        voc: PASCAL VOC id (0 background .. 20).
        context: PASCAL-Context 459-class id.
        nyu: NYUv2 40-class id (0 unlabeled).
        thing: True for countable objects (instances, saliency), False for stuff.
    """
    voc: int
    context: int
    nyu: int
    thing: bool = True


KINDS: Dict[str, Kind] = {
    # VOC objects (downstream)
    'aeroplane': Kind(1, 2, 40), 'bicycle': Kind(2, 23, 40), 'bird': Kind(3, 25, 40),
    'boat': Kind(4, 31, 40), 'bottle': Kind(5, 34, 40), 'bus': Kind(6, 45, 40),
    'car': Kind(7, 59, 40), 'cat': Kind(8, 65, 40), 'chair': Kind(9, 72, 5),
    'cow': Kind(10, 98, 40), 'diningtable': Kind(11, 397, 7), 'dog': Kind(12, 113, 40),
    'horse': Kind(13, 207, 40), 'motorbike': Kind(14, 258, 40), 'person': Kind(15, 284, 31),
    'pottedplant': Kind(16, 308, 40), 'sheep': Kind(17, 347, 40), 'sofa': Kind(18, 368, 6),
    'train': Kind(19, 416, 40), 'tvmonitor': Kind(20, 427, 25),
    # non-VOC objects (background in the 21-class map, own context / NYU class)
    'ball': Kind(0, 10, 40), 'box': Kind(0, 37, 29), 'barrel': Kind(0, 13, 40),
    'bucket': Kind(0, 43, 40), 'cone': Kind(0, 87, 40), 'cabinet': Kind(0, 46, 3),
    'shelves': Kind(0, 349, 15), 'bed': Kind(0, 18, 4), 'lamp': Kind(0, 232, 35),
    'bag': Kind(0, 9, 37), 'pillow': Kind(0, 290, 18), 'toilet': Kind(0, 408, 33),
    'bathtub': Kind(0, 17, 36), 'desk': Kind(0, 397, 14), 'counter': Kind(0, 96, 12),
    'fridge': Kind(0, 170, 24), 'books': Kind(0, 33, 23), 'night stand': Kind(0, 46, 32),
    'dresser': Kind(0, 46, 17), 'sink': Kind(0, 357, 34), 'bookshelf': Kind(0, 349, 10),
    # stuff
    'wall': Kind(0, 440, 1, False), 'floor': Kind(0, 158, 2, False),
    'ceiling': Kind(0, 68, 22, False), 'sky': Kind(0, 360, 0, False),
    'ground': Kind(0, 189, 38, False), 'grass': Kind(0, 187, 38, False),
    'road': Kind(0, 324, 38, False), 'building': Kind(0, 44, 38, False),
    'tree': Kind(0, 420, 38, False), 'window': Kind(0, 454, 9, False),
    'door': Kind(0, 115, 8, False), 'picture': Kind(0, 287, 11, False),
    'curtain': Kind(0, 105, 16, False), 'blinds': Kind(0, 455, 13, False),
    'whiteboard': Kind(0, 29, 30, False), 'mirror': Kind(0, 252, 19, False),
    'rug': Kind(0, 330, 20, False),
}
