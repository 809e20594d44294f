#include "agent/net/xml.h"

#include <doctest/doctest.h>

using namespace kiln::net;

TEST_CASE("xml: values of S3's fixed-shape answers, entities decoded") {
  std::string list = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>dir/</Prefix>
<IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;en/+=</NextContinuationToken>
<Contents><Key>dir/a &amp; b &lt;c&gt; &quot;q&quot; &apos;s&apos;</Key><Size>5</Size><ETag>&quot;abc&quot;</ETag></Contents>
<Contents><Key>dir/caf&#233;&#x1F600;</Key><Size>0</Size></Contents><Contents><Key/></Contents></ListBucketResult>)";
  CHECK(xml_value(list, "IsTruncated") == "true");
  CHECK(xml_value(list, "NextContinuationToken") == "tok&en/+=");
  auto blocks = xml_blocks(list, "Contents");
  REQUIRE(blocks.size() == 3);
  CHECK(xml_value(blocks[0], "Key") == "dir/a & b <c> \"q\" 's'");
  CHECK(xml_value(blocks[0], "Size") == "5");
  CHECK(xml_value(blocks[0], "ETag") == "\"abc\"");
  CHECK(xml_value(blocks[1], "Key") == "dir/caf\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(xml_value(blocks[2], "Key").empty());
  CHECK(xml_values(list, "Key").size() == 3);
  CHECK(xml_value(list, "Missing").empty());
  // A tag whose name starts with another's is not confused with it.
  CHECK(xml_value("<KeyCount>2</KeyCount><Key>k</Key>", "Key") == "k");
  CHECK(xml_value("<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>", "Message") ==
        "Access Denied");
  CHECK(
      xml_value(R"(<InitiateMultipartUploadResult><UploadId attr="x">id-1</UploadId></InitiateMultipartUploadResult>)",
                "UploadId") == "id-1");
}

TEST_CASE("xml: malformed entities are kept, escape round-trips") {
  CHECK(xml_decode("a &bogus; &#xZZ; & b &#1114112;") == "a &bogus; &#xZZ; & b &#1114112;");
  std::string text = "<a href=\"x\">'&'</a>";
  CHECK(xml_decode(xml_escape(text)) == text);
}
