-- ListMySuggestions reads one member's suggestions, newest first: without this index
-- every call would scan all suggesters.
create index tag_suggesters_user_idx on tag_suggesters (user_id, seq);
