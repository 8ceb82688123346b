import { sh, sqlIdent, sqlLiteral } from "../quote.ts";
import type { Step } from "../lifecycle/runner.ts";
import { SERVER_ALIASES } from "../testbed/server.ts";
import type { RecipeContext } from "./context.ts";
import { secretsOf } from "./secrets.ts";
import { pgHbaBlock, withHbaBlock } from "./pg-hba.ts";

/** One SQL statement as the postgres superuser; names and passwords go in through sqlIdent/sqlLiteral. */
const psql = (sql: string) => sh`sudo -u postgres psql -v ON_ERROR_STOP=1 -qAtc ${sql}`;

/** The database server: reachable from the app server, one role and database per environment. */
export const dbSteps: Step<RecipeContext>[] = [
  {
    name: "db: listen on the network",
    phase: "provision",
    async run({ db }) {
      const current = (await db.run("pg_conftool -s show listen_addresses || true")).stdout.trim();
      if (current !== "*") {
        await db.run(`pg_conftool set listen_addresses '*' && systemctl restart postgresql`);
      }
      await db.run("for i in $(seq 300); do pg_isready -q && exit 0; sleep 0.1; done; pg_isready");
    },
  },
  {
    name: "db: roles and databases",
    phase: "provision",
    async run({ db, envs, tb }) {
      for (const env of envs) {
        const pw = sqlLiteral(secretsOf(tb)[env.name].dbPassword);
        const exists = (await db.run(psql(`SELECT 1 FROM pg_roles WHERE rolname = ${sqlLiteral(env.role)}`))).stdout.trim() === "1";
        await db.run(psql(exists ? `ALTER ROLE ${sqlIdent(env.role)} WITH LOGIN PASSWORD ${pw}` : `CREATE ROLE ${sqlIdent(env.role)} WITH LOGIN PASSWORD ${pw}`));
        const hasDb = (await db.run(psql(`SELECT 1 FROM pg_database WHERE datname = ${sqlLiteral(env.database)}`))).stdout.trim() === "1";
        if (!hasDb) await db.run(psql(`CREATE DATABASE ${sqlIdent(env.database)} OWNER ${sqlIdent(env.role)}`));
        // pg_hba already refuses other roles; this makes the database itself say no as well.
        await db.run(psql(`REVOKE CONNECT ON DATABASE ${sqlIdent(env.database)} FROM PUBLIC; GRANT CONNECT ON DATABASE ${sqlIdent(env.database)} TO ${sqlIdent(env.role)}`));
      }
    },
  },
  {
    name: "db: pg_hba admits the app server",
    phase: "provision",
    async run({ db, tb }) {
      // Rules for every environment of the table, so provisioning a subset keeps the others' rules.
      const address = (await db.run(sh`getent ahostsv4 ${SERVER_ALIASES.app} | awk 'NR==1 {print $1}'`)).stdout.trim();
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(address)) throw new Error(`cannot resolve ${SERVER_ALIASES.app} from the database server (got "${address}")`);
      const hbaPath = (await db.run(psql("SHOW hba_file"))).stdout.trim();
      const current = (await db.run(sh`cat ${hbaPath}`)).stdout + "\n";
      const next = withHbaBlock(current, pgHbaBlock(tb.envs, address));
      if (await db.writeFile(hbaPath, next, "640", "postgres:postgres")) {
        await db.run(psql("SELECT pg_reload_conf()"));
      }
    },
  },
];
