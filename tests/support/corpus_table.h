// The corpus tables (tests/corpus/corpus.tsv, amazon-managed.tsv and shared/corpus's copy):
// a header line, then one tab-separated row per document: file, verdict, platform, and for
// invalid documents the line of the first error and why. Rows with fewer than three cells
// are skipped; missing later cells are empty.
#pragma once
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace kiln::test {

struct CorpusRow {
  std::string file, verdict, platform, line, reason;
};

inline std::vector<CorpusRow> read_corpus_table(const std::string& path) {
  std::vector<CorpusRow> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    std::string cell;
    while (std::getline(s, cell, '\t')) cells.push_back(cell);
    if (cells.size() < 3) continue;
    cells.resize(5);
    rows.push_back({cells[0], cells[1], cells[2], cells[3], cells[4]});
  }
  return rows;
}

}  // namespace kiln::test
