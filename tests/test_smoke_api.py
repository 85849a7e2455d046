from pathlib import Path

from server.openapi import api_table_markdown
from tests.support import World

NAME, BORN = "Xylofoon Quaggazwemmer", "2016-03-04"


def test_story_over_http(world: World) -> None:
    school = world.org()
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    contact = world.member("contact", school)
    teacher = world.member("teacher", school, class_label="groep 5b")
    sent = world.send(sender, school, NAME, BORN)
    assert sent.status_code == 201, sent.text
    signal_id = sent.json()["id"]
    assert contact.open(signal_id) == {"name": NAME, "birth_date": BORN}
    forwarded = world.forward(contact, signal_id, school, [teacher.person_id], NAME, BORN)
    assert forwarded.status_code == 200
    assert teacher.open(signal_id)["name"] == NAME


def test_readme_lists_every_api_route() -> None:
    """The README's API table is the route table's own (server/openapi.py makes it)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert api_table_markdown() in readme
