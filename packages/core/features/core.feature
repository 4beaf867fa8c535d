Feature: Core: a point-of-service system reaches the shared health record through the interoperability layer

  Background:
    Given I use basic auth as "${CORE_TEST_CLIENT_ID}" with password "${CORE_TEST_CLIENT_PASSWORD}"

  Scenario: The test client creates a patient and reads it back through the router
    When I send a POST request to "${BASE_URL}/fhir/Patient" with the FHIR resource:
      """
      {
        "resourceType": "Patient",
        "identifier": [{ "system": "urn:instant:test:national-id", "value": "CORE-FEATURE-001" }],
        "name": [{ "family": "Moyo", "given": ["Tendai"] }],
        "gender": "female",
        "birthDate": "1990-04-12"
      }
      """
    Then the response status is 201
    And the response header "location" matches "Patient/"
    And I remember the response JSON at "id" as "PATIENT_ID"
    When I send a GET request to "${BASE_URL}/fhir/Patient/${PATIENT_ID}"
    Then the response status is 200
    And the response JSON at "name.0.family" is "Moyo"
    When I send a GET request to "${BASE_URL}/fhir/Patient?identifier=urn:instant:test:national-id|CORE-FEATURE-001"
    Then the response status is 200
    And the response JSON at "total" is at least 1

  Scenario: Every routed request is logged in the transaction API
    When I send a GET request to "${BASE_URL}/fhir/Patient?_count=1"
    Then the response status is 200
    Given I use basic auth as "${OPENHIM_ROOT_EMAIL}" with password "${OPENHIM_ROOT_PASSWORD}"
    When I send a GET request to "${INTEROP_LAYER_API_URL}/transactions?filterLimit=10"
    Then the response status is 200
    And the response body contains "/fhir/Patient"
    And the response body contains "${CORE_TEST_CLIENT_ID}"

  Scenario: A client with a wrong password is refused
    Given I use basic auth as "${CORE_TEST_CLIENT_ID}" with password "not-the-password"
    When I send a GET request to "${BASE_URL}/fhir/Patient"
    Then the response status is 401

  Scenario: Invalid FHIR is refused with an OperationOutcome, not stored
    When I send a POST request to "${BASE_URL}/fhir/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "gender": "sometimes" }
      """
    Then the response status is 400
    And the response JSON at "resourceType" is "OperationOutcome"
