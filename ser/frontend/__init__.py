"""Feature front end: named feature sets (features/*.yaml) -> extractors -> kaldiio arks."""
