// Just enough XML for S3's answers: S3 replies with small documents of a fixed shape
// (ListBucketResult, InitiateMultipartUploadResult, Error, ...), and kiln needs the text of
// a few elements from them. No DTDs, namespaces or nesting of the same tag are needed, so
// this finds <Tag>text</Tag> and decodes the five entities and numeric references.
// See docs/DECISIONS.md, "S3 transfers".
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace kiln::net {

// The decoded text of every <tag>...</tag> in `xml`, in order (an empty <tag/> gives "").
std::vector<std::string> xml_values(std::string_view xml, std::string_view tag);
// The first one, or "" when there is none.
std::string xml_value(std::string_view xml, std::string_view tag);
// The raw inner XML of every <tag>...</tag> (for repeated blocks such as <Contents>).
std::vector<std::string_view> xml_blocks(std::string_view xml, std::string_view tag);
// &amp; &lt; &gt; &quot; &apos; &#N; &#xH; decoded (an unknown entity is kept as written).
std::string xml_decode(std::string_view text);
// Escapes & < > " ' for text placed in an element.
std::string xml_escape(std::string_view text);

}  // namespace kiln::net
