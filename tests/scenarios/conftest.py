import pytest

from storage import customers
from storage.customers import ContactInput, CustomerInput
from tests.factories import NOW, build_world
from tests.stack import running_stack


@pytest.fixture
def stack(database, redis_conn, playbook):
    """The test org, rep1 owning 上海华东机电设备有限公司, and the whole product on loopback."""
    with database.transaction() as s:
        w = build_world(s)
        customers.create_customer(s, w.rep1, CustomerInput(
            kind="company", name="上海华东机电设备有限公司", credit_code="91310115MA1H7XQ819",
            contacts=[ContactInput(name="王建国", mobile="13816620001")]), playbook, now=NOW)
    with running_stack(database, redis_conn) as st:
        yield st
