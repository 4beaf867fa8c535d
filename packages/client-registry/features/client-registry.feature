Feature: Client registry: one identity per person, through the interoperability layer

  Background:
    Given I use basic auth as "${CLIENT_REGISTRY_TEST_CLIENT_ID}" with password "${CLIENT_REGISTRY_TEST_CLIENT_PASSWORD}"
    # The test clinics' identifier domains, registered unless there (a registry with any domain
    # registered refuses identifiers of others): the test client is a data steward.
    When I send a POST request to "${BASE_URL}/clientregistry/fhir" with the FHIR resource:
      """
      { "resourceType": "Bundle", "type": "transaction", "entry": [
        { "resource": { "resourceType": "NamingSystem", "name": "InstantTestClinicA", "status": "active", "kind": "identifier", "date": "2026-01-01",
                        "uniqueId": [{ "type": "uri", "value": "urn:instant:test:clinic-a", "preferred": true }] },
          "request": { "method": "POST", "url": "NamingSystem", "ifNoneExist": "value=urn:instant:test:clinic-a" } },
        { "resource": { "resourceType": "NamingSystem", "name": "InstantTestClinicB", "status": "active", "kind": "identifier", "date": "2026-01-01",
                        "uniqueId": [{ "type": "uri", "value": "urn:instant:test:clinic-b", "preferred": true }] },
          "request": { "method": "POST", "url": "NamingSystem", "ifNoneExist": "value=urn:instant:test:clinic-b" } } ] }
      """
    Then the response status is 200

  Scenario: A duplicate registration from another clinic links to the same golden record, and PIXm answers both identifiers
    When I send a POST request to "${BASE_URL}/clientregistry/fhir/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "identifier": [{ "system": "urn:instant:test:clinic-a", "value": "CR-FEATURE-A1" }],
        "name": [{ "family": "Kamanga", "given": ["Lusungu"] }], "gender": "female", "birthDate": "1988-07-30" }
      """
    Then the response status is 201
    And I remember the response JSON at "link.0.other.reference" as "GOLDEN"
    When I send a POST request to "${BASE_URL}/clientregistry/fhir/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "identifier": [{ "system": "urn:instant:test:clinic-b", "value": "CR-FEATURE-B1" }],
        "name": [{ "family": "Kamanga", "given": ["Lusungu"] }], "gender": "female", "birthDate": "1988-07-30" }
      """
    Then the response status is 201
    And the response JSON at "link.0.other.reference" is "${GOLDEN}"
    When I send a GET request to "${BASE_URL}/clientregistry/fhir/Patient/$ihe-pix?sourceIdentifier=urn:instant:test:clinic-a|CR-FEATURE-A1"
    Then the response status is 200
    And the response body contains "CR-FEATURE-B1"

  Scenario: PIXm answers 404 for an identifier nobody registered
    When I send a GET request to "${BASE_URL}/clientregistry/fhir/Patient/$ihe-pix?sourceIdentifier=urn:instant:test:clinic-a|NOBODY"
    Then the response status is 404
    And the response JSON at "resourceType" is "OperationOutcome"
