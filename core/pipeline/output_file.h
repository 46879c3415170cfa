/* -o FILE for any format that writes one file: the build stages next to
 * FILE (the same file system), and the one staged output is renamed onto
 * FILE, so FILE is either the old file or the complete new one. */
#ifndef LKB_PIPELINE_OUTPUT_FILE_H
#define LKB_PIPELINE_OUTPUT_FILE_H

#include "util/error.h"

/* The directory FILE is in ("." for a bare name); malloc'd. */
char *lkb_output_file_dir(const char *file);
/* Rename the single file of stage onto file, then remove stage. A stage
 * holding several outputs (a plugin format that writes more than one file)
 * or none is refused, naming what the format wrote; file is not touched. */
int lkb_output_file_commit(const char *stage, const char *file, const char *format,
                           struct lkb_error *err);

#endif
