from db.names import name_key


def test_name_key_folds_case_accents_and_punctuation() -> None:
    assert name_key("  ACME Córp., Inc ") == "acme corp inc"
    assert name_key("Acme-Corp") == name_key("acme corp")
    assert name_key("Ünïcode GmbH") == "unicode gmbh"
    assert name_key("🚀 Rocket") == "rocket"
    assert name_key("") == ""
