"""Long-term memory logic: extraction, revision, consolidation, forgetting, profiles (pure, no I/O).

```
extraction       extract(messages) -> [Candidate]     deterministic: episodes + first-person facts
llm_extraction   LLMExtractor.extract / aextract      one JSON call per batch, never fatal
llm_flow         LLMRequest, ExtractionBudget, drive / adrive   sync and async over one generator
temporal         ground(text, reference)              "last Friday" -> [start, end)
entities         extract_entities, merge_aliases, resolve_entities, build_relations
revision         decide(new, similar, now=) -> Decision        duplicate / refine / supersede / add
revision_plan    plan_revisions(news, similar, now=)  a batch, net writes, sync and async
consolidation    find_near_duplicates, merge_cluster, plan_consolidation, bloat
forgetting       ForgettingPolicy, plan_forgetting, decay
profile          update_profile(profile, memories), edit_profile(profile, fields)
ranking          rank_memories, fuse, RankingWeights   hybrid scores with their parts
queries          lexical_query, entities_in_query, query_periods   what a search text asks
texts            index_text, lexical_text, dense_text   what each index sees of a memory
vectors          normalise, encode, exact top-k    shared by every memory store
bm25             tokenise, term hashes, BM25 scores   one lexical scorer for every store
```

Every function here is pure: it takes records and returns the records to write; the memory
facade does the storage I/O.
"""

from engram.memory._revision_decision import Decision
from engram.memory.candidates import (
    ENGRAM_METADATA_KEYS,
    NO_VALUE,
    Candidate,
    EntityKind,
    EntityMention,
    MemoryMetadata,
    RelationMention,
)
from engram.memory.consolidation import (
    ConsolidationPlan,
    Merge,
    bloat,
    find_near_duplicates,
    merge_cluster,
    plan_consolidation,
)
from engram.memory.entities import (
    EntityResolution,
    build_relations,
    close_relations,
    extract_entities,
    fold,
    merge_aliases,
    resolve_entities,
)
from engram.memory.extraction import extract
from engram.memory.forgetting import Forget, ForgettingPolicy, decay, plan_forgetting
from engram.memory.llm_extraction import ExtractionResult, LLMExtractor, extraction_flow
from engram.memory.llm_flow import ExtractionBudget, LLMRequest, adrive, drive
from engram.memory.profile import edit_profile, update_profile
from engram.memory.revision import RevisionPolicy, decide, resolve_ambiguous
from engram.memory.revision_plan import (
    RevisionPlan,
    aplan_revisions,
    plan_flow,
    plan_revisions,
)
from engram.memory.revision_verdict import decision_flow
from engram.memory.temporal import TimeMention, ground

__all__ = [
    "NO_VALUE",
    "Candidate",
    "ConsolidationPlan",
    "Decision",
    "EntityKind",
    "EntityMention",
    "EntityResolution",
    "ExtractionBudget",
    "ExtractionResult",
    "Forget",
    "ForgettingPolicy",
    "LLMExtractor",
    "LLMRequest",
    "ENGRAM_METADATA_KEYS",
    "MemoryMetadata",
    "Merge",
    "RelationMention",
    "RevisionPlan",
    "RevisionPolicy",
    "TimeMention",
    "adrive",
    "aplan_revisions",
    "bloat",
    "build_relations",
    "close_relations",
    "decay",
    "decide",
    "decision_flow",
    "drive",
    "edit_profile",
    "extract",
    "extract_entities",
    "extraction_flow",
    "find_near_duplicates",
    "fold",
    "ground",
    "merge_aliases",
    "merge_cluster",
    "plan_consolidation",
    "plan_flow",
    "plan_forgetting",
    "plan_revisions",
    "resolve_ambiguous",
    "resolve_entities",
    "update_profile",
]
