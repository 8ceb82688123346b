import { sh, sqlIdent, sqlLiteral } from "../shell/quote.ts";
import type { Step } from "../lifecycle/steps.ts";
import { SERVER_ALIASES } from "../testbed/server.ts";
import type { RecipeContext } from "./context.ts";
import type { SshRunner } from "../shell/ssh.ts";
import { secretsOf } from "./secrets.ts";
import { pgHbaBlock, withHbaBlock } from "./pg-hba.ts";

/**
 * SQL as the postgres superuser, fed on stdin (so no value is ever on a command line), stopping at
 * its first error; names and passwords go in through sqlIdent/sqlLiteral.
 */
const psql = (db: SshRunner, sql: string) => db.run("sudo -u postgres psql -X -v ON_ERROR_STOP=1 -qAt -f -", { stdin: `${sql}\n` });

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
      // One psql session for every environment (a session per statement took about 1 s here).
      // CREATE DATABASE cannot run in a DO block, so what may exist already is made through \gexec:
      // the SELECT yields the statement only when the role or database is missing.
      const script = envs.flatMap((env) => {
        const [role, database] = [sqlLiteral(env.role), sqlLiteral(env.database)];
        return [
          `SELECT format('CREATE ROLE %I', ${role}) WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${role})\\gexec`,
          `ALTER ROLE ${sqlIdent(env.role)} WITH LOGIN PASSWORD ${sqlLiteral(secretsOf(tb)[env.name].dbPassword)};`,
          `SELECT format('CREATE DATABASE %I OWNER %I', ${database}, ${role}) WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = ${database})\\gexec`,
          // pg_hba already refuses other roles; this makes the database itself say no as well.
          `REVOKE CONNECT ON DATABASE ${sqlIdent(env.database)} FROM PUBLIC;`,
          `GRANT CONNECT ON DATABASE ${sqlIdent(env.database)} TO ${sqlIdent(env.role)};`,
        ];
      });
      await psql(db, script.join("\n"));
    },
  },
  {
    name: "db: pg_hba admits the app server",
    phase: "provision",
    async run({ db, tb }) {
      // Rules for every environment of the table, so provisioning a subset keeps the others' rules.
      const address = (await db.run(sh`getent ahostsv4 ${SERVER_ALIASES.app} | awk 'NR==1 {print $1}'`)).stdout.trim();
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(address)) throw new Error(`cannot resolve ${SERVER_ALIASES.app} from the database server (got "${address}")`);
      const hbaPath = (await psql(db, "SHOW hba_file;")).stdout.trim();
      const current = (await db.run(sh`cat ${hbaPath}`)).stdout + "\n";
      const next = withHbaBlock(current, pgHbaBlock(tb.envs, address));
      if (await db.writeFile(hbaPath, next, "640", "postgres:postgres")) {
        await psql(db, "SELECT pg_reload_conf();");
      }
    },
  },
];
