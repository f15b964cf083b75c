/**
 * Grafana on the EC2 monitoring host: from Grafana's RPM repository (pinned version, GPG-checked), one
 * Prometheus datasource with a fixed uid, the dashboards from ami/monitoring/dashboards, and a generated
 * admin password instead of admin/admin. Pure: files and scripts as text.
 */
import { dump } from 'js-yaml';
import { MONITORING_PORTS } from '../../stacks/engines';
import type { ServiceSpec } from '../engines/types';
import { DATASOURCE_UID } from './dashboards';
import type { MonitoringPins } from './pins';
import { putFile, q } from './shell';
import { SCRAPE } from './prometheus';

export const GRAFANA_PATHS = {
  datasource: '/etc/grafana/provisioning/datasources/loadfleet.yaml',
  dashboardsProvider: '/etc/grafana/provisioning/dashboards/loadfleet.yaml',
  /**
   * Root-owned, under /etc/grafana (which the RPM's postinst keeps root:grafana, "configuration files should not be
   * modifiable by grafana user": grafana/grafana packaging/rpm/control/postinst). Never in /var/lib/grafana, which
   * belongs to the grafana user: root writing there would follow links grafana planted (issue 20). Grafana's file
   * provider only reads this folder (pkg/services/provisioning/dashboards/file_reader.go @ v11.3.0: os.Stat,
   * filepath.Walk, os.Open), so world-readable files in a root-owned folder are all it needs.
   */
  dashboardsDir: '/etc/grafana/dashboards/loadfleet',
  config: '/etc/grafana/grafana.ini',
  /** The admin password Grafana reads through grafana.ini's `$__file{…}`, root:grafana 0640. */
  adminPasswordFile: '/etc/grafana/loadfleet-admin-password',
  /** The drop-in earlier versions wrote (GF_SECURITY_ADMIN_PASSWORD__FILE, which the RPM's unit ignores): removed. */
  dropIn: '/etc/systemd/system/grafana-server.service.d/90-loadfleet.conf',
  /**
   * The RPM's CLI wrapper: runs /usr/share/grafana/bin/grafana cli with --homepath, --config and
   * --configOverrides 'cfg:default.paths.data=/var/lib/grafana …', i.e. on the database the server uses
   * (grafana/grafana packaging/wrappers/grafana-cli, installed to /usr/sbin by grafana-build's fpm step). A bare
   * `grafana cli` is not on PATH in the RPM layout and, without the data path, resets /usr/share/grafana/data/grafana.db.
   */
  cli: '/usr/sbin/grafana-cli',
} as const;

const GRAFANA_DEFAULT_PATHS = GRAFANA_PATHS;

/** Name of the file in the env folder (mode 0600) holding Grafana's admin password. */
export const ADMIN_PASSWORD_FILE = 'grafana-admin-password';

/** 24 random bytes as URL-safe base64: 32 characters, no shell or INI metacharacters. */
export function generatePassword(randomBytes: (n: number) => Buffer): string {
  return randomBytes(24).toString('base64url');
}

export function datasourceYaml(prometheusUrl: string): string {
  return dump(
    {
      apiVersion: 1,
      datasources: [
        {
          name: 'Prometheus',
          type: 'prometheus',
          uid: DATASOURCE_UID,
          access: 'proxy',
          url: prometheusUrl,
          isDefault: true,
          editable: false,
          jsonData: { timeInterval: `${SCRAPE.intervalSeconds}s`, httpMethod: 'POST' },
        },
      ],
    },
    { lineWidth: -1 },
  );
}

export function dashboardsProviderYaml(): string {
  return dump(
    {
      apiVersion: 1,
      providers: [
        {
          name: 'loadfleet',
          folder: 'loadfleet',
          type: 'file',
          disableDeletion: true,
          allowUiUpdates: false,
          updateIntervalSeconds: 30,
          options: { path: GRAFANA_PATHS.dashboardsDir, foldersFromFilesStructure: false },
        },
      ],
    },
    { lineWidth: -1 },
  );
}

/**
 * Only the settings loadfleet cares about; everything else stays Grafana's default. The admin password comes
 * from Grafana's own file provider, `$__file{path}` (pkg/setting/expanders.go: fileExpander reads the file and
 * trims it), which works under any service manager; GF_SECURITY_ADMIN_PASSWORD__FILE is read only by the Docker
 * image's entrypoint (packaging/docker/run.sh), never by the RPM's systemd unit. Grafana applies admin_password
 * when it creates the admin user (first start); later changes go through the CLI reset.
 */
export function grafanaIni(adminPasswordFile: string = GRAFANA_PATHS.adminPasswordFile): string {
  return [
    '; written by loadfleet',
    '[server]',
    `http_port = ${MONITORING_PORTS.grafana}`,
    '[security]',
    'admin_user = admin',
    `admin_password = $__file{${adminPasswordFile}}`,
    'disable_gravatar = true',
    'cookie_secure = false',
    '[users]',
    'allow_sign_up = false',
    '[auth.anonymous]',
    'enabled = false',
    '[analytics]',
    'reporting_enabled = false',
    'check_for_updates = false',
    '',
  ].join('\n');
}

/**
 * Idempotent sh for AL2023, run as root: the RPM repository, the pinned package, provisioning files,
 * dashboards, the admin password (a root:grafana 0640 file written under umask 077, so it is never readable by
 * others, not even for a moment; never on a command line) read by grafana.ini's `$__file{…}` at first start and
 * reset with the packaged grafana-cli wrapper on reruns. Install fails unless admin logs in with that password
 * through the API on 127.0.0.1 afterwards, and admin/admin does not.
 */
export function grafanaInstallScript(pins: MonitoringPins, dashboards: Readonly<Record<string, string>>, adminPassword: string, prometheusUrl: string, opts: { readonly paths?: Readonly<Record<keyof typeof GRAFANA_PATHS, string>>; readonly port?: number } = {}): string {
  const g = pins.grafana;
  const GRAFANA_PATHS = opts.paths ?? GRAFANA_DEFAULT_PATHS;
  const repo = ['[grafana]', 'name=grafana', `baseurl=${g.rpmRepo}`, 'repo_gpgcheck=1', 'enabled=1', 'gpgcheck=1', `gpgkey=${g.gpgKey}`, 'sslverify=1', 'sslcacert=/etc/pki/tls/certs/ca-bundle.crt', ''].join('\n');
  const api = `http://127.0.0.1:${opts.port ?? MONITORING_PORTS.grafana}`;
  return [
    'set -eu',
    putFile('/etc/yum.repos.d/grafana.repo', repo),
    `if [ "$(rpm -q --qf '%{VERSION}' grafana 2>/dev/null || true)" != ${q(g.version)} ]; then dnf install -y -q ${q(`grafana-${g.version}`)} >/dev/null && echo ${q(`changed grafana ${g.version}`)}; fi`,
    `[ -x ${GRAFANA_PATHS.cli} ] || { echo "grafana: ${GRAFANA_PATHS.cli} is missing (rpm -ql grafana | grep sbin): cannot set the admin password" >&2; exit 1; }`,
    putFile(GRAFANA_PATHS.datasource, datasourceYaml(prometheusUrl)),
    putFile(GRAFANA_PATHS.dashboardsProvider, dashboardsProviderYaml()),
    ...Object.entries(dashboards).map(([file, json]) => putFile(`${GRAFANA_PATHS.dashboardsDir}/${file}`, json)),
    // umask 077 first: the temporary file holding the password is created 0600, never 0644 before its chmod.
    'old_umask=$(umask)',
    'umask 077',
    putFile(GRAFANA_PATHS.adminPasswordFile, `${adminPassword}\n`, '0640'),
    putFile(GRAFANA_PATHS.config, grafanaIni(GRAFANA_PATHS.adminPasswordFile), '0640'),
    'umask "$old_umask"',
    `chown root:grafana ${q(GRAFANA_PATHS.adminPasswordFile)} ${q(GRAFANA_PATHS.config)}`,
    `if [ -e ${q(GRAFANA_PATHS.dropIn)} ]; then rm -f ${q(GRAFANA_PATHS.dropIn)}; echo ${q(`changed removed ${GRAFANA_PATHS.dropIn}`)}; fi`,
    'systemctl daemon-reload',
    // Restarted every time: provisioning files are read at start.
    'systemctl enable grafana-server >/dev/null 2>&1',
    'systemctl restart grafana-server',
    `i=0; until curl -fsS -o /dev/null ${api}/api/health; do i=$((i+1)); [ $i -lt 60 ] || { echo "grafana: not healthy 60 s after start: journalctl -u grafana-server" >&2; exit 1; }; sleep 1; done`,
    // Credentials reach curl on its stdin (-K -), never argv. 200 = the login works.
    `login() { printf 'user = "admin:%s"\\n' "$1" | curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -K - ${api}/api/user || true; }`,
    `pw=$(cat ${q(GRAFANA_PATHS.adminPasswordFile)})`,
    'if [ "$(login "$pw")" != 200 ]; then',
    // Already initialised (a rerun, an image that ran Grafana): admin_password applies only when admin is created.
    // --password-from-stdin (Grafana 9.1+): the password never appears in argv, which /proc shows to every user.
    `  ${GRAFANA_PATHS.cli} admin reset-admin-password --password-from-stdin < ${q(GRAFANA_PATHS.adminPasswordFile)} >/dev/null 2>&1 || { echo "grafana: ${GRAFANA_PATHS.cli} admin reset-admin-password failed" >&2; exit 1; }`,
    '  echo "changed grafana admin password"',
    'fi',
    `[ "$(login "$pw")" = 200 ] || { echo "grafana: admin cannot log in with the password in ${GRAFANA_PATHS.adminPasswordFile} (GET ${api}/api/user): the password did not take" >&2; exit 1; }`,
    `[ "$(login admin)" != 200 ] || { echo "grafana: admin/admin still logs in" >&2; exit 1; }`,
    '',
  ].join('\n');
}

/** Grafana runs from its own systemd unit (the RPM's grafana-server.service); this is what doctor looks for. */
export const GRAFANA_PROCESS: Pick<ServiceSpec, 'name' | 'processPattern'> = { name: 'grafana-server', processPattern: 'grafana(-server| server)' };
