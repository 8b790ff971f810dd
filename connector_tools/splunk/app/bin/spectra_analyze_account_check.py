"""The configuration page's handler of appliances (ucc-gen's generated
``spectra_analyze_rh_account.py`` hands it every request): before an
appliance is saved, it must answer the same read-only lookup as
``test_connectivity``, with the token just entered. The check itself is
``connector.splunk.accounts.check_account``."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE / "lib"))  # after UCC's lib/, which the generated handler put first

from solnlib.splunkenv import get_splunkd_uri  # noqa: E402
from splunktaucclib.rest_handler.admin_external import AdminExternalHandler  # noqa: E402 (needs the path above)
from splunktaucclib.rest_handler.error import RestError  # noqa: E402

from connector.errors import SpectraAnalyzeError  # noqa: E402
from connector.splunk.accounts import PROXY_TAB, check_account, proxy_url, saved_tabs  # noqa: E402
from connector.splunk.kvstore import Splunkd  # noqa: E402


class AccountCheck(AdminExternalHandler):
    def handleCreate(self, confInfo):  # noqa: N802 (splunktaucclib's naming)
        self._check(self.payload)
        AdminExternalHandler.handleCreate(self, confInfo)

    def handleEdit(self, confInfo):  # noqa: N802
        self._check(self.payload)
        AdminExternalHandler.handleEdit(self, confInfo)

    def _check(self, fields):
        app_dir = HERE.parent
        try:
            splunkd = Splunkd(get_splunkd_uri(), self.getSessionKey(), app_dir.name)
            proxy = proxy_url(saved_tabs(app_dir).get(PROXY_TAB, {}), splunkd)
            check_account(self.callerArgs.id, dict(fields), app_dir, proxy)
        except SpectraAnalyzeError as err:
            raise RestError(400, f"the appliance was not saved: {err}") from None
