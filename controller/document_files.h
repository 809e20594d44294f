// The local files a run needs on the target: the documents, and the child documents their
// ExecuteDocument steps name by a relative path (kiln resolves those from the parent
// document's folder), recursively. Each gets a path relative to one folder (the closest
// folder holding them all), so that the same relative references work on the target.
// Absolute paths and URLs (s3://, https://) name something on the target or the network:
// they are left alone, as are paths built from {{ expressions }}.
#pragma once
#include <string>
#include <vector>

namespace kiln::ctl {

struct DocumentFile {
  std::string local;     // absolute path here
  std::string relative;  // where it goes, relative to the target's documents folder
};

struct DocumentFiles {
  std::vector<DocumentFile> files;       // the documents first, in order, then the children
  std::vector<std::string> documents;    // the documents' relative paths, in the order given
  std::vector<std::string> warnings;     // a relative child that is not here ("...: not found")
};

// Reads each document (YAML or JSON) to find its children. A document that cannot be read
// or parsed is still uploaded (kiln reports its error on the target, with line and column).
DocumentFiles document_files(const std::vector<std::string>& documents);

}  // namespace kiln::ctl
