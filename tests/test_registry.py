"""The course registry is consistent: unique slugs, known sections, every page file present."""

from course.registry import _ENTRIES, PAGES, SECTIONS


def test_slugs_unique_and_sections_known():
    slugs = [e.slug for e in _ENTRIES]
    assert len(slugs) == len(set(slugs))
    assert all(e.section in SECTIONS for e in _ENTRIES)


def test_every_registered_page_has_its_module():
    for entry in PAGES:
        assert entry.module_path.is_file(), entry.module
        assert entry.module.startswith("pages/") and entry.module.endswith(".py")


def test_no_page_script_sits_directly_in_pages_folder():
    """Top-level pages/*.py would switch Streamlit to legacy multipage mode, bypassing app.py."""
    from course.registry import ROOT

    assert not sorted((ROOT / "pages").glob("*.py"))
