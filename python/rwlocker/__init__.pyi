from typing import List

from .async_rwlock import *
from .thread_rwlock import *

__all__: List[str]
__version__: str
