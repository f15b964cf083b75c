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
  dashboardsDir: '/var/lib/grafana/dashboards/loadfleet',
  config: '/etc/grafana/grafana.ini',
  /** The admin password Grafana reads at start (GF_SECURITY_ADMIN_PASSWORD__FILE), root:grafana 0640. */
  adminPasswordFile: '/etc/grafana/loadfleet-admin-password',
  dropIn: '/etc/systemd/system/grafana-server.service.d/90-loadfleet.conf',
} as const;

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

/** Only the settings loadfleet cares about; everything else stays Grafana's default. */
export function grafanaIni(): string {
  return [
    '; written by loadfleet',
    '[server]',
    `http_port = ${MONITORING_PORTS.grafana}`,
    '[security]',
    'admin_user = admin',
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
 * dashboards, the admin password (a root:grafana 0640 file; never on a command line).
 * The admin password is applied at first start through the __FILE variable and, when Grafana already
 * ran, reset with grafana cli, so a rerun with a new password still takes effect.
 */
export function grafanaInstallScript(pins: MonitoringPins, dashboards: Readonly<Record<string, string>>, adminPassword: string, prometheusUrl: string): string {
  const g = pins.grafana;
  const repo = ['[grafana]', 'name=grafana', `baseurl=${g.rpmRepo}`, 'repo_gpgcheck=1', 'enabled=1', 'gpgcheck=1', `gpgkey=${g.gpgKey}`, 'sslverify=1', 'sslcacert=/etc/pki/tls/certs/ca-bundle.crt', ''].join('\n');
  return [
    'set -eu',
    putFile('/etc/yum.repos.d/grafana.repo', repo),
    `if [ "$(rpm -q --qf '%{VERSION}' grafana 2>/dev/null || true)" != ${q(g.version)} ]; then dnf install -y -q ${q(`grafana-${g.version}`)} >/dev/null && echo ${q(`changed grafana ${g.version}`)}; fi`,
    putFile(GRAFANA_PATHS.datasource, datasourceYaml(prometheusUrl)),
    putFile(GRAFANA_PATHS.dashboardsProvider, dashboardsProviderYaml()),
    ...Object.entries(dashboards).map(([file, json]) => putFile(`${GRAFANA_PATHS.dashboardsDir}/${file}`, json)),
    putFile(GRAFANA_PATHS.config, grafanaIni(), '0640'),
    putFile(GRAFANA_PATHS.adminPasswordFile, `${adminPassword}\n`, '0640'),
    `chown root:grafana ${q(GRAFANA_PATHS.adminPasswordFile)} ${q(GRAFANA_PATHS.config)}`,
    putFile(GRAFANA_PATHS.dropIn, `[Service]\nEnvironment=GF_SECURITY_ADMIN_PASSWORD__FILE=${GRAFANA_PATHS.adminPasswordFile}\n`),
    'systemctl daemon-reload',
    // Restarted every time: provisioning files are read at start.
    'systemctl enable grafana-server >/dev/null 2>&1',
    'systemctl restart grafana-server',
    `i=0; until curl -fsS -o /dev/null http://127.0.0.1:${MONITORING_PORTS.grafana}/api/health; do i=$((i+1)); [ $i -lt 60 ] || { echo "grafana: not healthy 60 s after start: journalctl -u grafana-server" >&2; exit 1; }; sleep 1; done`,
    // Already initialised (a rerun, or an image that ran Grafana): the __FILE variable only applies on first start.
    // --password-from-stdin (Grafana 9.1+): the password never appears in argv, which /proc shows to every user.
    `grafana cli --homepath /usr/share/grafana --config ${q(GRAFANA_PATHS.config)} admin reset-admin-password --password-from-stdin < ${q(GRAFANA_PATHS.adminPasswordFile)} >/dev/null 2>&1 || { echo "grafana: could not set the admin password" >&2; exit 1; }`,
    '',
  ].join('\n');
}

/** Grafana runs from its own systemd unit (the RPM's grafana-server.service); this is what doctor looks for. */
export const GRAFANA_PROCESS: Pick<ServiceSpec, 'name' | 'processPattern'> = { name: 'grafana-server', processPattern: 'grafana(-server| server)' };
