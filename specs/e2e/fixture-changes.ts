/** Changes to the sample project that specs commit or deploy on purpose. */

/** A migration after the fixture's last one that always raises. */
export const FAILING_MIGRATION = {
  path: "notes/migrations/0003_boom.py",
  message: "RuntimeError: boom: this migration always fails",
  content: `from django.db import migrations


def boom(apps, schema_editor):
    raise RuntimeError("boom: this migration always fails")


class Migration(migrations.Migration):
    dependencies = [("notes", "0002_note_pinned")]
    operations = [migrations.RunPython(boom)]
`,
};
