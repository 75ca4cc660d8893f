// The atsbridge connector for Workable (SPI v3), written in JavaScript.
//
// componentize-js builds this module into a component of the world
// `connector` (wit/v0.1.0/world.wit). The world exports the interface
// `plugin`, so the module exports an object `plugin` with one method per
// call, named in lowerCamelCase (`list-jobs` -> `listJobs`). The imports are
// the host's interfaces, by their WIT names:
//
//   import { send } from 'atsbridge:connector/http@0.1.0';
//
// | call          | Workable endpoint                                                          |
// |---------------|----------------------------------------------------------------------------|
// | `check`       | `GET /jobs?limit=1`                                                        |
// | `list-jobs`   | `GET /jobs?limit=100&include_fields=...[&updated_after=]`, then `paging.next` |
// | `list-stages` | `GET /jobs/{shortcode}/stages`, or `GET /stages` without a job             |
//
// Pushing candidates is not implemented here (the capabilities say so, and
// those calls answer `unsupported`); the Python example shows one.
//
// Each call runs in a fresh instance: nothing is kept between calls.

import { log } from 'atsbridge:connector/log@0.1.0';
import { ConnectorError, permanent, unsupported } from './errors.js';
import { Workable, job, stages } from './workable.js';

/** Must equal `plugin.version` in atsbridge-plugin.toml (install checks it). */
export const VERSION = '0.1.0';

/**
 * Runs one call; an unexpected exception (a bug, or an answer of an
 * unexpected shape) becomes `permanent` with the stack in the host's log,
 * instead of a trap that tells the operator nothing.
 */
function reported(name, body) {
  try {
    return body();
  } catch (e) {
    if (e instanceof ConnectorError) {
      throw { tag: e.tag, val: e.val };
    }
    log('error', `${name} failed: ${e && e.stack ? e.stack : String(e)}`);
    const unexpected = permanent(`unexpected data or connector bug in ${name}: ${String(e)}`);
    throw { tag: unexpected.tag, val: unexpected.val };
  }
}

const setting = (key, label, kind, required, help) => ({
  key,
  label,
  kind,
  required,
  help,
  choices: [],
  defaultValue: undefined,
});

export const plugin = {
  info() {
    return {
      name: 'Workable (JavaScript)',
      version: VERSION,
      vendor: 'atsbridge examples',
      capabilities: ['stages'],
      configSchema: [
        setting('subdomain', 'Account subdomain', 'text', true, 'The `acme` of acme.workable.com.'),
        setting(
          'api-token',
          'API access token',
          'secret',
          true,
          'Workable > Settings > Integrations > Apps > Generate API token, with r_jobs.',
        ),
        setting(
          'base-url',
          'API base URL',
          'url',
          false,
          'Only for a proxy or test server; defaults to https://{subdomain}.workable.com/spi/v3.',
        ),
      ],
    };
  },

  check(config) {
    return reported('check', () => new Workable(config).check());
  },

  listJobs(config, cursor, changedSince) {
    return reported('list-jobs', () => {
      // The cursor is the absolute `paging.next` URL; it already carries
      // `updated_after`, so `changedSince` only shapes the first page.
      const client = new Workable(config);
      const url = cursor ?? client.firstJobsUrl(changedSince);
      const { jobs, nextUrl } = client.jobsPage(url);
      return { jobs: jobs.map(job), nextCursor: nextUrl };
    });
  },

  listStages(config, jobCode) {
    return reported('list-stages', () => stages(new Workable(config).stages(jobCode), jobCode));
  },

  pushCandidate(_config, _request) {
    return reported('push-candidate', () => {
      throw unsupported('this connector does not push candidates');
    });
  },

  candidateStatuses(_config, _refs) {
    return reported('candidate-statuses', () => {
      throw unsupported('this connector does not read candidate statuses');
    });
  },
};
