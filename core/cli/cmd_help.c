/* `lkb help [COMMAND]`: the manual page compiled into lkb (help_pages.h),
 * so it is there without man(1) and says what the installed page says. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/help_pages.h"

int lkb_cmd_help(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "lkb: error: help takes one COMMAND\n");
        return 2;
    }
    char name[64];
    const char *topic = argc > 1 ? argv[1] : "lkb";
    if (strcmp(topic, "lkb") == 0)
        snprintf(name, sizeof name, "lkb");
    else if (strlen(topic) < sizeof name - 4)
        snprintf(name, sizeof name, "lkb-%s", topic);
    else
        name[0] = '\0';
    for (const struct lkb_help_page *p = lkb_help_pages; p->name; p++)
        if (strcmp(p->name, name) == 0) {
            fputs(p->text, stdout);
            return 0;
        }
    if (!lkb_help_pages[0].name) {
        fprintf(stderr, "lkb: error: this lkb was built without its manual pages (scdoc); "
                        "see 'lkb %s --help' and docs/\n",
                topic);
        return 2;
    }
    fprintf(stderr, "lkb: error: no help on '%s': try build, run, formats, cache or plugin\n",
            topic);
    return 2;
}
