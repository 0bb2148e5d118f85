"""Customer memory across visits: profiles, daily event counters, event patterns and offer memory, stored in
the history database (`store`), filled by profile sources (`sources`) and recalled at identification
(`recall`)."""
